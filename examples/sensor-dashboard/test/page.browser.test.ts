import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { chromiumPath } from '../../../test-support/system.js';
import type { RunningDashboard } from '../src/server.js';
import { chartValues, openDashboard, pageInChromium, type Sensor, tableValues } from './dashboard-page.js';
import { postReadings, start, waitFor } from './helpers.js';

const ARTIFACTS = fileURLToPath(new URL('../.artifacts/', import.meta.url));

describe.skipIf(!chromiumPath)('dashboard page in Chromium', () => {
  const chromium = pageInChromium();
  let app: RunningDashboard;
  let page: Page;
  let problems: string[];

  afterEach(async () => {
    await page?.close();
    await app?.close();
    // CSP violations, failed loads and uncaught errors all land here.
    expect(problems).toEqual([]);
  });

  async function open(transport: 'sse' | 'ws'): Promise<void> {
    app = await start({ assetsDir: chromium.assetsDir, capacity: 60 });
    ({ page, problems } = await openDashboard(chromium.browser, `${app.url}/?transport=${transport}`, 10_000));
    await expect(page.locator('#connection').textContent()).resolves.toContain(
      transport === 'ws' ? 'WebSocket' : 'SSE',
    );
  }

  for (const transport of ['sse', 'ws'] as const) {
    it(`charts readings as they arrive, with a matching table and stats (${transport})`, async () => {
      await open(transport);
      expect(await chartValues(page, 'temperature')).toEqual([]);

      const sent: number[] = [];
      for (let i = 0; i < 14; i++) {
        const value = Math.round((20 + Math.sin(i) * 4) * 10) / 10;
        sent.push(value);
        expect((await postReadings(app.url, { sensor: 'temperature', value })).status).toBe(200);
        // The chart grows reading by reading, read from the uPlot instance itself.
        await waitFor(
          async () => (await chartValues(page, 'temperature')).length === sent.length,
          `${sent.length} points`,
        );
      }
      expect(await chartValues(page, 'temperature')).toEqual(sent);

      // Last 10, newest first.
      expect(await tableValues(page, 'temperature')).toEqual(sent.slice(-10).reverse());
      const avg = sent.reduce((a, b) => a + b, 0) / sent.length;
      const stat = (name: string) => page.locator(`#temperature-card [data-stat="${name}"]`).textContent();
      expect(await stat('avg')).toBe(`${avg.toFixed(1)} °C`);
      expect(await stat('min')).toBe(`${Math.min(...sent).toFixed(1)} °C`);
      expect(await stat('max')).toBe(`${Math.max(...sent).toFixed(1)} °C`);
      expect(await stat('count')).toBe(String(sent.length));
      // The page's stats agree with the server's SeriesBuffer.
      expect(app.hub.state.sensors.temperature.stats.avg).toBeCloseTo(avg, 10);

      // A batch for two sensors lands on both charts.
      await postReadings(app.url, [
        { sensor: 'humidity', value: 45 },
        { sensor: 'light', value: 300 },
        { sensor: 'humidity', value: 47 },
      ]);
      await waitFor(async () => (await chartValues(page, 'humidity')).length === 2, 'humidity points');
      expect(await chartValues(page, 'humidity')).toEqual([45, 47]);
      expect(await chartValues(page, 'light')).toEqual([300]);
      await expect(page.locator('#device').textContent()).resolves.toMatch(/Device default: online, last seen/);
    });
  }

  it('draws a page opened later straight from the snapshot', async () => {
    app = await start({ assetsDir: chromium.assetsDir, capacity: 60 });
    await postReadings(
      app.url,
      [1, 2, 3, 4, 5].map((value) => ({ sensor: 'light', value })),
    );
    ({ page, problems } = await openDashboard(chromium.browser, app.url));
    await waitFor(async () => (await chartValues(page, 'light')).length === 5, 'the snapshot on the chart');
    expect(await chartValues(page, 'light')).toEqual([1, 2, 3, 4, 5]);
    expect(await tableValues(page, 'light')).toEqual([5, 4, 3, 2, 1]);
  });

  it('sets a threshold from the page and raises the alarm when a reading crosses it', async () => {
    await open('sse');
    await postReadings(app.url, { sensor: 'temperature', value: 22 });
    await waitFor(async () => (await tableValues(page, 'temperature')).length === 1, 'first reading');
    expect(await page.locator('#alarm-banner').isHidden()).toBe(true);

    // A bad entry is refused on the page, and nothing reaches the server.
    await page.getByLabel('Low', { exact: true }).first().fill('40');
    await page.getByLabel('High', { exact: true }).first().fill('25');
    await page.getByRole('button', { name: 'Set temperature alarm' }).click();
    await expect(page.locator('#temperature-alarm-message').textContent()).resolves.toMatch(/low must be below high/);
    expect(app.hub.state.alarms.temperature).toEqual({ low: null, high: 30 });

    await page.getByLabel('Low', { exact: true }).first().fill('');
    await page.getByRole('button', { name: 'Set temperature alarm' }).click();
    await page.locator('#temperature-alarm-message', { hasText: 'Saved' }).waitFor();
    expect(app.hub.state.alarms.temperature).toEqual({ low: null, high: 25 });

    await postReadings(app.url, { sensor: 'temperature', value: 26.5 });
    const banner = page.locator('#alarm-banner');
    await banner.waitFor({ state: 'visible' });
    await expect(banner.textContent()).resolves.toMatch(
      /Temperature 26\.5 °C is above the high alarm threshold 25\.0 °C/,
    );
    const newest = page.locator('table[data-table="temperature"] tbody tr').first();
    await expect(newest.getAttribute('class')).resolves.toBe('alarm');
    await expect(newest.locator('td').nth(2).textContent()).resolves.toBe('Above alarm');
    await expect(page.locator('#temperature-card').getAttribute('data-alarm')).resolves.toBe('high');

    // Back inside the limits: the banner clears.
    await postReadings(app.url, { sensor: 'temperature', value: 24 });
    await banner.waitFor({ state: 'hidden' });
  });

  it('injects random readings from the buttons, switches transport, and saves a screenshot', async () => {
    await open('sse');
    await page.getByRole('button', { name: 'Inject 10 random readings per sensor' }).click();
    await page.locator('#inject-result', { hasText: 'Injected 30 readings.' }).waitFor();
    for (const sensor of ['temperature', 'humidity', 'light'] as const) {
      await waitFor(async () => (await chartValues(page, sensor)).length === 10, `${sensor} injected points`);
      expect(await chartValues(page, sensor)).toEqual(app.hub.state.sensors[sensor].points.map((p) => p.value));
    }

    // The new connection starts over from the store: every chart still shows what the hub holds. (Ten
    // injected readings of a sensor used to share one millisecond; two equal values among them were one
    // reading to the store, so the reloaded chart lost a point: the flake at "a reading over WebSocket".)
    await page.getByLabel('WebSocket').check();
    await page.locator('#connection[data-status="open"]', { hasText: 'WebSocket' }).waitFor();
    expect(new URL(page.url()).searchParams.get('transport')).toBe('ws');
    const hubValues = (sensor: Sensor) => app.hub.state.sensors[sensor].points.map((p) => p.value);
    const matchesHub = async () => {
      for (const sensor of ['temperature', 'humidity', 'light'] as const) {
        expect(await chartValues(page, sensor)).toEqual(hubValues(sensor));
      }
      return true;
    };
    await waitFor(matchesHub, 'the charts reloaded over WebSocket to match the hub', 20_000);
    await page.getByRole('button', { name: 'Inject 1 random reading per sensor' }).click();
    await page.locator('#inject-result', { hasText: 'Injected 3 readings.' }).waitFor();
    expect(hubValues('light')).toHaveLength(11);
    await waitFor(matchesHub, 'a reading over WebSocket on every chart', 20_000);

    // A realistic picture for the artefact: a crossing reading and a few more points.
    await postReadings(
      app.url,
      [31, 29, 33].map((value) => ({ sensor: 'temperature', value })),
    );
    await page.locator('#alarm-banner').waitFor({ state: 'visible' });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}sensor-dashboard.png`, fullPage: true });
  }, 90_000);
});
