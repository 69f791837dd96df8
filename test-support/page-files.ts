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
  const files = { root: '', publicDir: '' };
  beforeEach(() => {
    files.root = mkdtempSync(join(tmpdir(), prefix));
    files.publicDir = join(files.root, 'public');
    mkdirSync(files.publicDir);
    writeFileSync(join(files.publicDir, 'index.html'), indexHtml);
    writeFileSync(join(files.publicDir, 'app.js'), 'console.log(1);');
    writeFileSync(join(files.root, 'secret.txt'), 'not for the web');
  });
  afterEach(() => {
    if (files.root) rmSync(files.root, { recursive: true, force: true });
  });
  return files;
}
