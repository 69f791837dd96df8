#!/usr/bin/env node
// Bundles the page (src/page/app.ts + @boardcast/browser-client → public/app.js).
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import writeFileAtomic from 'write-file-atomic';

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
  // Each file lands whole (write-file-atomic writes it aside, then renames it): a page
  // loading while another process builds (two instances, parallel tests) never reads half a bundle.
  for (const file of result.outputFiles) {
    await mkdir(dirname(file.path), { recursive: true });
    await writeFileAtomic(file.path, Buffer.from(file.contents));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildPage();
