import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { buildPage } from '../scripts/build.mjs';
import { tempDirForSuite } from './helpers.js';

const dir = tempDirForSuite('sensor-dashboard-build-');

// `start` rebuilds dist/ while another instance may be serving it: a rebuild replaces each file
// (renamed over it), never rewrites it in place, so a reader of the old file reads it whole.
it('buildPage replaces app.js and index.html whole, leaving nothing aside', async () => {
  const app = join(dir.path, 'app.js');
  const html = join(dir.path, 'index.html');
  writeFileSync(app, '// the previous bundle\n');
  writeFileSync(html, '<!-- the previous page -->');
  const readingApp = openSync(app, 'r');
  const readingHtml = openSync(html, 'r');
  try {
    const { bytes } = await buildPage(dir.path);
    expect(readFileSync(readingApp, 'utf8')).toBe('// the previous bundle\n');
    expect(readFileSync(readingHtml, 'utf8')).toBe('<!-- the previous page -->');
    expect(readFileSync(app).length).toBe(bytes);
    expect(readFileSync(html, 'utf8')).toContain('<script type="module" src="/app.js">');
    // The whole listing: an aside file (write-file-atomic names it `app.js.<number>`) fails it.
    expect(readdirSync(dir.path).sort()).toEqual(['app.css', 'app.css.map', 'app.js', 'app.js.map', 'index.html']);
  } finally {
    closeSync(readingApp);
    closeSync(readingHtml);
  }
}, 60_000);
