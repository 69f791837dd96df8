import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import { sourceAliases } from '../../../scripts/workspace-sources.mjs';
import { waitFor } from '../../../test-support/wait.js';
// @ts-expect-error plain .mjs build script without types
import { buildPage } from '../scripts/build.mjs';

export { sourceAliases };

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

/** A page in a fresh context of `browser` at `url`; page errors are printed. */
export async function openPage(browser: Browser, url: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('[page error]', error));
  await page.goto(url);
  return page;
}
