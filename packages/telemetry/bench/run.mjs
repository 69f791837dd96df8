#!/usr/bin/env node
// Runs bench/telemetry.ts from sources: esbuild bundles it (Node 20 runs no
// TypeScript), the drivers stay external and resolve from this package.
// Usage: node bench/run.mjs [--store sqlite|postgres|both] [--rss] [--smoke] [--query-only] [--runs N]
// Prints the time and the load average before and after: the figures depend on what else runs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const packages = join(here, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'boardcast-telemetry-bench-'));
const outfile = join(dir, 'bench.cjs');
await build({
  entryPoints: [join(here, 'telemetry.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  external: ['better-sqlite3', 'pg', 'pg-native'],
  alias: {
    '@boardcast/core': join(packages, 'core', 'src', 'index.ts'),
    '@boardcast/core/server': join(packages, 'core', 'src', 'server.ts'),
  },
});
const load = () =>
  `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(', ')}`;
console.log(`start: ${load()}`);
const result = spawnSync(process.execPath, ['--expose-gc', outfile, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, NODE_PATH: join(here, '..', 'node_modules'), BENCH_TMP: dir },
});
console.log(`end: ${load()}`);
rmSync(dir, { recursive: true, force: true });
process.exit(result.status ?? 1);
