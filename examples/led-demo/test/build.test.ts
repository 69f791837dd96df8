import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
// @ts-expect-error plain .mjs build script without types
import { buildPage } from '../scripts/build.mjs';
import { sourceAliases } from './helpers.js';

const build = buildPage as (options: { alias: Record<string, string>; outfile: string }) => Promise<void>;

// Test workers build the page while other workers serve it: a rebuild replaces app.js and its
// map (renamed over them), never rewrites them in place, so a reader of the old file reads it whole.
it('buildPage replaces app.js and app.js.map whole, leaving nothing aside', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'led-demo-build-'));
  const outfile = join(dir, 'app.js');
  writeFileSync(outfile, '// the previous bundle\n');
  writeFileSync(`${outfile}.map`, '{"previous":true}');
  const reading = openSync(outfile, 'r');
  const readingMap = openSync(`${outfile}.map`, 'r');
  try {
    await build({ alias: sourceAliases, outfile });
    expect(readFileSync(reading, 'utf8')).toBe('// the previous bundle\n');
    expect(readFileSync(readingMap, 'utf8')).toBe('{"previous":true}');
    expect(readFileSync(outfile, 'utf8')).toMatch(/\/\/# sourceMappingURL=app\.js\.map\n$/);
    expect(JSON.parse(readFileSync(`${outfile}.map`, 'utf8'))).toMatchObject({ version: 3 });
    expect(readdirSync(dir).sort()).toEqual(['app.js', 'app.js.map']);
  } finally {
    closeSync(reading);
    closeSync(readingMap);
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
