import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../../test-support/wait.js';
// @ts-expect-error plain .mjs build script without types
import { buildPage } from '../scripts/build.mjs';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

/** @boardcast/* → package sources, so tests never need a package build. */
export const sourceAliases: Record<string, string> = Object.fromEntries(
  readdirSync(`${repo}packages`)
    .filter((name) => existsSync(`${repo}packages/${name}/src/index.ts`))
    .map((name) => [`@boardcast/${name}`, `${repo}packages/${name}/src/index.ts`]),
);

let built: Promise<void> | undefined;
/** Build public/app.js from sources once per test run. */
export function buildPageFromSources(): Promise<void> {
  built ??= (buildPage as (o: { alias: Record<string, string> }) => Promise<void>)({ alias: sourceAliases });
  return built;
}

export const artifactsDir = fileURLToPath(new URL('../.artifacts/', import.meta.url));
mkdirSync(artifactsDir, { recursive: true });

export { waitFor };
