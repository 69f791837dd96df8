import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { waitFor } from '../../../test-support/wait.js';
// @ts-expect-error plain .mjs build script without types
import { buildPage } from '../scripts/build.mjs';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Every entry a package.json `exports` map names → its source
 * (`./dist/<entry>.js` → `packages/<name>/src/<entry>.ts`), so tests never
 * need a package build: `@boardcast/core` → `src/index.ts`,
 * `@boardcast/board-adapter-gpio/contract` → `src/contract.ts`. esbuild
 * prefers the exact key, so the subpath entry wins over its package's.
 */
export const sourceAliases: Record<string, string> = Object.fromEntries(
  readdirSync(`${repo}packages`).flatMap((name) => {
    const manifest = `${repo}packages/${name}/package.json`;
    if (!existsSync(manifest)) return [];
    const exportsMap = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, unknown> }).exports;
    return Object.entries(exportsMap ?? {}).flatMap(([subpath, target]) => {
      const dist = JSON.stringify(target).match(/"\.\/dist\/([^"]+)\.js"/)?.[1];
      const source = dist && `${repo}packages/${name}/src/${dist}.ts`;
      return source && existsSync(source) ? [[`@boardcast/${name}${subpath.slice(1)}`, source]] : [];
    });
  }),
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
