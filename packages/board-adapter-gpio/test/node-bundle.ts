import { build, type LogLevel } from 'esbuild';
import { sourceAliases } from '../../../scripts/workspace-sources.mjs';

/**
 * Bundle the Node program `entry` (a .ts file) from the workspace's sources
 * (`@boardcast/*` resolved to `packages/<name>/src`, no package build needed)
 * into one ESM file `outfile` for Node 20, for a test to run as a child
 * process. `ws`'s optional native add-ons stay external; `require` is defined
 * for the CommonJS code bundled into the ESM file.
 */
export async function bundleForNode(entry: string, outfile: string, logLevel: LogLevel = 'warning'): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    alias: sourceAliases,
    external: ['bufferutil', 'utf-8-validate'],
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    logLevel,
  });
}
