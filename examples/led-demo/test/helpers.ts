import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
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

/** Wait until the element at `selector` reads exactly `expected` (textContent), then assert it. */
export async function expectText(page: Page, selector: string, expected: string, timeout = 10_000): Promise<void> {
  await page.waitForFunction(
    ([sel, want]) => document.querySelector(sel as string)?.textContent === want,
    [selector, expected],
    { timeout },
  );
  expect(await page.locator(selector).textContent()).toBe(expected);
}
