// `pnpm --filter sensor-dashboard bench:ingest` / `bench:frames`: bundle the
// TypeScript bench with esbuild (boardcast from source) and run it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const benches = { ingest: 'ingest-load.ts', frames: 'frame-time.ts' };
const name = /** @type {keyof typeof benches} */ (process.argv[2] ?? '');
if (!(name in benches)) {
  console.error(`usage: node scripts/run-bench.mjs ${Object.keys(benches).join('|')} [args]`);
  process.exit(2);
}
const root = fileURLToPath(new URL('..', import.meta.url));
const packages = fileURLToPath(new URL('../../../packages/', import.meta.url));
// Next to the sources so the bundle resolves zod, ws and playwright-core from this package's node_modules.
const dir = mkdtempSync(join(root, '.bench-'));
try {
  await build({
    entryPoints: [`${root}bench/${benches[name]}`],
    outfile: join(dir, 'bench.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // The packages' own dependencies are bundled; these load from this example's node_modules
    // (better-sqlite3 is a native addon and pg/mqtt require Node built-ins at run time: an ESM bundle cannot hold them).
    external: ['ws', 'bufferutil', 'utf-8-validate', 'playwright-core', 'esbuild', 'better-sqlite3', 'pg', 'mqtt'],
    logLevel: 'warning',
    plugins: [
      {
        name: 'boardcast-from-source',
        setup(b) {
          b.onResolve({ filter: /^@boardcast\/[a-z-]+$/ }, (args) => ({
            path: `${packages}${args.path.slice('@boardcast/'.length)}/src/index.ts`,
          }));
        },
      },
    ],
  });
  const result = spawnSync(process.execPath, [join(dir, 'bench.mjs'), ...process.argv.slice(3)], { stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
