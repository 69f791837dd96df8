import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { watchPage } from '../../../test-support/security-probe.js';
import { type LaunchedBrowser, launchChromium } from '../../../test-support/system.js';
import { buildPageToTemp } from './helpers.js';

export type Sensor = 'temperature' | 'humidity' | 'light';

/** The values a sensor's chart plots, read from the page's uPlot instance (`window.__dashboard.charts`). */
export function chartValues(page: Page, sensor: Sensor): Promise<number[]> {
  return page.evaluate((name) => {
    const chart = (window as unknown as { __dashboard: { charts: Record<string, { data: number[][] }> } }).__dashboard
      .charts[name];
    return Array.from(chart?.data[1] ?? []);
  }, sensor);
}

/** The values of a sensor's last-readings table, newest first. */
export function tableValues(page: Page, sensor: Sensor): Promise<number[]> {
  return page.$$eval(`table[data-table="${sensor}"] tbody tr`, (rows) =>
    rows.map((row) => Number((row as HTMLElement).dataset.value)),
  );
}

/**
 * The dashboard at `url` in a new 1280×1000 page (its own context, closed
 * with it) whose page errors, console errors and CSP violations collect in
 * `problems`; resolves once the page's connection is open.
 */
export async function openDashboard(
  browser: Browser,
  url: string,
  timeoutMs = 20_000,
): Promise<{ page: Page; problems: string[] }> {
  const watched = await watchPage({ newPage: () => browser.newPage({ viewport: { width: 1280, height: 1000 } }) });
  await watched.page.goto(url);
  await watched.page.locator('#connection[data-status="open"]').waitFor({ timeout: timeoutMs });
  return watched;
}

/**
 * For the tests of the describe it is called in: the page built into a temp
 * dir (serve it with `start({ assetsDir })`) and Chromium launched before
 * them, both gone after them. Read the two inside a test or hook.
 */
export function pageInChromium(): { readonly assetsDir: string; readonly browser: Browser } {
  let built: { dir: string; remove(): void } | undefined;
  let launched: LaunchedBrowser | undefined;
  beforeAll(async () => {
    built = await buildPageToTemp();
    launched = await launchChromium();
  });
  afterAll(async () => {
    await launched?.close();
    built?.remove();
  });
  const ready = () => {
    if (!built || !launched) throw new Error('pageInChromium: the page and Chromium are ready once beforeAll ran');
    return { built, launched };
  };
  return {
    get assetsDir() {
      return ready().built.dir;
    },
    get browser() {
      return ready().launched.browser;
    },
  };
}
