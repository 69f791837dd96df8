import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

/** Poll until `check` returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
