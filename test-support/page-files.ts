import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

export interface PageFiles {
  /** The temp folder: `public/` and, beside it, `secret.txt` ("not for the web"), which no request may reach. */
  readonly root: string;
  /** `root/public`: `index.html` as given and `app.js` (`console.log(1);`). */
  readonly publicDir: string;
}

/**
 * For each test of the file or describe it is called in: a page's files for
 * a static-file server to serve, written to a new temp folder (named from
 * `prefix`) before the test and removed after it. Read them inside a test.
 */
export function pageFilesForEachTest(prefix: string, indexHtml: string): PageFiles {
  let files: PageFiles | undefined;
  beforeEach(() => {
    const root = mkdtempSync(join(tmpdir(), prefix));
    const publicDir = join(root, 'public');
    mkdirSync(publicDir);
    writeFileSync(join(publicDir, 'index.html'), indexHtml);
    writeFileSync(join(publicDir, 'app.js'), 'console.log(1);');
    writeFileSync(join(root, 'secret.txt'), 'not for the web');
    files = { root, publicDir };
  });
  afterEach(() => {
    if (files) rmSync(files.root, { recursive: true, force: true });
    files = undefined;
  });
  const written = () => {
    if (!files) throw new Error('pageFilesForEachTest: the files are written in beforeEach');
    return files;
  };
  return {
    get root() {
      return written().root;
    },
    get publicDir() {
      return written().publicDir;
    },
  };
}
