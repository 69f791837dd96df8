#!/usr/bin/env node
// GPIO latency through the real helper on the emulated chip:
//   pnpm --filter @boardcast/board-adapter-gpio bench:gpio [-- --n 1000 --api 2]
// Bundles gpio-latency.ts with the package and core sources (no build needed) and runs it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { sourceAliases } from '../../../scripts/workspace-sources.mjs';

const here = new URL('.', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'gpio-bench-'));
try {
  const out = join(dir, 'bench.mjs');
  await build({
    entryPoints: [join(here, 'gpio-latency.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    alias: sourceAliases,
    logLevel: 'warning',
  });
  process.env.EMULATED_GPIO_DIR = join(here, '../../../test-support/emulated-gpio');
  const { run } = await import(pathToFileURL(out).href);
  await run(process.argv.slice(2), here);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
