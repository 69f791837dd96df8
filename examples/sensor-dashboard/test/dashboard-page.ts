import type { Browser, Page } from 'playwright-core';
import { watchPage } from '../../../test-support/security-probe.js';

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
