#!/usr/bin/env node
// Bundles the page (src/page/app.ts + @boardcast/browser-client → public/app.js).
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** @param {{ alias?: Record<string, string>, outfile?: string }} [options] `alias`: @boardcast/* → sources. */
export async function buildPage(options = {}) {
  const outfile = options.outfile ?? `${root}public/app.js`;
  const result = await build({
    entryPoints: [`${root}src/page/app.ts`],
    outfile,
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    alias: options.alias ?? {},
    logLevel: 'warning',
    write: false,
  });
  // Each file lands whole (written aside, then renamed): a page loading while
  // another process builds (two instances, parallel tests) never reads half a bundle.
  // A random aside name: two builds of one process in the same millisecond must not share one.
  for (const file of result.outputFiles) {
    const aside = `${file.path}.${randomUUID()}.tmp`;
    await mkdir(dirname(file.path), { recursive: true });
    try {
      await writeFile(aside, file.contents);
      await rename(aside, file.path);
    } catch (error) {
      await rm(aside, { force: true });
      throw error;
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildPage();
