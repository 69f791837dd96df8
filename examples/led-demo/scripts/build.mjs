#!/usr/bin/env node
// Builds the page script (TypeScript + @boardcast/browser-client → public/app.js)
// and the server (src → dist, plain transpile: @boardcast/* stay imports of
// the published packages, exactly as a user's app would have them).
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * @param {{ alias?: Record<string, string>, outfile?: string }} [options]
 *   `alias` maps @boardcast/* to sources (tests build without a package build).
 */
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

export async function buildServer() {
  const entryPoints = readdirSync(`${root}src`)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${root}src/${f}`);
  await build({
    entryPoints,
    outdir: `${root}dist`,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await Promise.all([buildPage(), buildServer()]);
}
