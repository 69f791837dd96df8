#!/usr/bin/env node
// Bundles the page (src/page/app.ts + @boardcast/browser-client → public/app.js).
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** @param {{ alias?: Record<string, string>, outfile?: string }} [options] `alias`: @boardcast/* → sources. */
export async function buildPage(options = {}) {
  await build({
    entryPoints: [`${root}src/page/app.ts`],
    outfile: options.outfile ?? `${root}public/app.js`,
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    alias: options.alias ?? {},
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildPage();
