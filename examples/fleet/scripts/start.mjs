#!/usr/bin/env node
// `pnpm --filter fleet start`: the fleet straight from the workspace's sources
// (the LED demo's source hooks: @boardcast/* public entries resolve to their
// src/*.ts; nothing is built but the page).
import { sourceAliases } from '../../../scripts/workspace-sources.mjs';
import { buildPage } from './build.mjs';

await buildPage({ alias: sourceAliases });
await import('../../led-demo/scripts/from-source.mjs');
await import('../src/cli.ts');
