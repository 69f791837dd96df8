#!/usr/bin/env node
/**
 * Size budget: bundle each public entry the way a page would get it
 * (esbuild, minified, browser platform, @boardcast/core and
 * eventsource-parser bundled in, every export kept) and report min+gzip.
 * Exits 1 when an entry exceeds its goal.
 *
 *   node packages/browser-client/scripts/size.mjs [--json]
 */
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = fileURLToPath(new URL('..', import.meta.url));
const core = fileURLToPath(new URL('../../core/src/index.ts', import.meta.url));

const entries = [
  { name: '@boardcast/browser-client/sse', file: 'src/sse.ts', limit: 2048 },
  { name: '@boardcast/browser-client/ws', file: 'src/ws.ts', limit: 5120 },
  { name: '@boardcast/browser-client', file: 'src/index.ts', limit: 5120 },
];

let failed = false;
const rows = [];
for (const entry of entries) {
  const result = await build({
    // `export *` keeps every public export alive, as an app importing them all would.
    stdin: { contents: `export * from ${JSON.stringify(`./${entry.file}`)};`, resolveDir: here, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    alias: { '@boardcast/core': core },
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  const gzip = gzipSync(code, { level: 9 }).length;
  const ok = gzip <= entry.limit;
  if (!ok) failed = true;
  rows.push({ entry: entry.name, min: code.length, gzip, limit: entry.limit, ok });
}

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  for (const r of rows) {
    console.log(
      `${r.ok ? 'ok  ' : 'FAIL'} ${r.entry.padEnd(32)} ${String(r.min).padStart(6)} B min  ${String(r.gzip).padStart(5)} B min+gzip  (limit ${r.limit} B)`,
    );
  }
}
process.exit(failed ? 1 : 0);
