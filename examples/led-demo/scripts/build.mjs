#!/usr/bin/env node
// Builds the page script (TypeScript + @boardcast/browser-client → public/app.js)
// and the server (src → dist, plain transpile: @boardcast/* stay imports of
// the published packages, exactly as a user's app would have them).
import { readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import writeFileAtomic from 'write-file-atomic';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * esbuild's output files (built with `write: false`), each landing whole:
 * write-file-atomic writes it aside and renames it over the old one (atomic on
 * one filesystem). A page loading while another process builds (parallel test
 * workers, two instances) reads the old bundle or the new one, never half of one.
 * @param {import('esbuild').OutputFile[]} files
 */
async function writeWhole(files) {
  for (const file of files) {
    await mkdir(dirname(file.path), { recursive: true });
    await writeFileAtomic(file.path, Buffer.from(file.contents));
  }
}

/**
 * @param {{ alias?: Record<string, string>, outfile?: string }} [options]
 *   `alias` maps @boardcast/* to sources (tests build without a package build).
 */
export async function buildPage(options = {}) {
  const result = await build({
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
    write: false,
  });
  await writeWhole(result.outputFiles);
}

export async function buildServer() {
  const entryPoints = readdirSync(`${root}src`)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${root}src/${f}`);
  const result = await build({
    entryPoints,
    outdir: `${root}dist`,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
    write: false,
  });
  await writeWhole(result.outputFiles);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await Promise.all([buildPage(), buildServer()]);
}
