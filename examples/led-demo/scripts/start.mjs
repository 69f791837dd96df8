#!/usr/bin/env node
// `pnpm demo` / `pnpm --filter led-demo start`: the demo straight from the
// workspace's sources, in a few seconds and without building any package.
// The page is bundled by esbuild with `@boardcast/*` resolved to their
// sources; the server runs src/cli.ts through source-hooks.mjs. Both keep
// importing the packages by their public names, as an app would.
// `start:built` runs the same demo against the packages' builds instead.
import { buildPage } from './build.mjs';
import { sourceAliases } from './sources.mjs';

await buildPage({ alias: sourceAliases });
await import('./from-source.mjs');
await import('../src/cli.ts');
