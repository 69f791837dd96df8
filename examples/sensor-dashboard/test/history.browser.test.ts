import { join } from 'node:path';
import { openSqliteStore, type SqliteStore } from '@boardcast/telemetry/sqlite';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { chromiumPath } from '../../../test-support/system.js';
import type { RunningDashboard } from '../src/server.js';
import { pageInChromium } from './dashboard-page.js';
import { postReadings, start, tempDirForSuite, waitFor } from './helpers.js';

/**
 * POST without keep-alive: after the restart a pooled socket to the old
 * server would fail the next request, and a retried POST could send a reading twice.
 */
const post = (url: string, body: unknown) =>
  postReadings(url, body, { 'Content-Type': 'application/json', Connection: 'close' });

/** The temperature chart as [time ms, value] pairs, read from the uPlot instance. */
function chartPoints(page: Page): Promise<[number, number][]> {
  return page.evaluate(() => {
    const chart = (window as unknown as { __dashboard: { charts: Record<string, { data: number[][] }> } }).__dashboard
      .charts.temperature;
    const xs = chart?.data[0] ?? [];
    const ys = chart?.data[1] ?? [];
    return Array.from(xs, (x, i) => [Math.round(x * 1000), ys[i] as number] as [number, number]);
  });
}

describe.skipIf(!chromiumPath)('charts that survive a server restart (Chromium)', () => {
  const chromium = pageInChromium();
  const dir = tempDirForSuite('sensor-dashboard-history-');

  it('after a restart the last hour is still drawn, then live points continue with no gap and no doubled point', async () => {
    const file = join(dir.path, 'readings.db');
    let store: SqliteStore = openSqliteStore({ path: file });
    let app: RunningDashboard = await start({ assetsDir: chromium.assetsDir, store });
    const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    try {
      await page.goto(`${app.url}/?range=1h`);
      await page.locator('#connection[data-status="open"]').waitFor({ timeout: 10_000 });

      // The last 40 minutes, one reading a minute.
      const now = Date.now();
      const sent: [number, number][] = [];
      for (let i = 40; i >= 1; i -= 1) sent.push([now - i * 60_000, Math.round((20 + Math.sin(i) * 3) * 10) / 10]);
      expect(
        (
          await postReadings(
            app.url,
            sent.map(([at, value]) => ({ sensor: 'temperature', value, at })),
          )
        ).status,
      ).toBe(200);
      await waitFor(async () => (await chartPoints(page)).length === 40, 'the 40 readings on the chart');
      expect(await chartPoints(page)).toEqual(sent);

      // Restart: a new process would open the same file; the hub's state comes back from the store.
      const port = app.port;
      await app.close();
      await store.close();
      store = openSqliteStore({ path: file });
      app = await start({ assetsDir: chromium.assetsDir, store, port });
      expect(app.hub.state.sensors.temperature.points).toEqual(sent.map(([at, value]) => ({ at, value })));

      // A device keeps posting while the page reconnects and reloads its history.
      const loadsBefore = await page.evaluate(
        () => (window as unknown as { __dashboard: { loads: number } }).__dashboard.loads,
      );
      let t = now;
      for (let i = 0; i < 30; i += 1) {
        t += 1000;
        const value = Math.round((25 + Math.cos(i) * 2) * 10) / 10;
        sent.push([t, value]);
        expect((await post(app.url, { sensor: 'temperature', value, at: t })).status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 60));
      }
      // The page reloaded its history from the store after the restart …
      await waitFor(
        async () =>
          (await page.evaluate(() => (window as unknown as { __dashboard: { loads: number } }).__dashboard.loads)) >
          loadsBefore,
        'a history reload after the restart',
        30_000,
      );
      // … and shows every reading exactly once, in time order: the old hour from the store, then the live ones.
      await waitFor(async () => (await chartPoints(page)).length >= sent.length, `${sent.length} points`, 20_000);
      expect(await chartPoints(page)).toEqual(sent);
      const table = await page.$$eval('table[data-table="temperature"] tbody tr', (rows) =>
        rows.map((row) => [Number((row as HTMLElement).dataset.at), Number((row as HTMLElement).dataset.value)]),
      );
      expect(table).toEqual(sent.slice(-10).reverse());
      expect(await page.locator('#temperature-card [data-stat="count"]').textContent()).toBe(String(sent.length));
      expect(problems).toEqual([]);
    } finally {
      await page.close();
      await app.close();
      await store.close();
    }
  });

  it('the same with more readings than the chart has pixels: buckets from the store, then live points', async () => {
    const file = join(dir.path, 'buckets.db');
    let store: SqliteStore = openSqliteStore({ path: file });
    let app: RunningDashboard = await start({ assetsDir: chromium.assetsDir, store });
    const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 1000 } });
    type Summary = { count: number; sum: number; min: number; max: number; points: number };
    const summary = () =>
      page.evaluate(() => {
        const h = (
          window as unknown as {
            __dashboard: {
              histories: Record<
                string,
                { points: { value: number; count: number; min: number | null; max: number | null }[] }
              >;
            };
          }
        ).__dashboard.histories.temperature;
        const points = h?.points ?? [];
        return {
          count: points.reduce((n, p) => n + p.count, 0),
          sum: points.reduce((n, p) => n + p.value * p.count, 0),
          min: Math.min(...points.map((p) => p.min ?? p.value)),
          max: Math.max(...points.map((p) => p.max ?? p.value)),
          points: points.length,
        };
      }) as Promise<Summary>;
    try {
      await page.goto(`${app.url}/?range=1h`);
      await page.locator('#connection[data-status="open"]').waitFor({ timeout: 10_000 });
      // 2,000 readings over the last 50 minutes (1.5 s apart), one spike.
      const now = Date.now();
      const sent: number[] = [];
      const batch: { sensor: string; value: number; at: number }[] = [];
      for (let i = 0; i < 2000; i += 1) {
        const value = i === 777 ? 99 : Math.round((20 + Math.sin(i / 50) * 3) * 10) / 10;
        sent.push(value);
        batch.push({ sensor: 'temperature', value, at: now - 3_000_000 + i * 1500 });
      }
      for (let i = 0; i < batch.length; i += 500) {
        expect((await post(app.url, batch.slice(i, i + 500))).status).toBe(200);
      }

      const port = app.port;
      await app.close();
      await store.close();
      store = openSqliteStore({ path: file });
      app = await start({ assetsDir: chromium.assetsDir, store, port });
      // Live readings while the page reconnects and loads the buckets.
      let t = now;
      for (let i = 0; i < 40; i += 1) {
        t += 500;
        const value = 21 + (i % 5) / 10;
        sent.push(value);
        expect((await post(app.url, { sensor: 'temperature', value, at: t })).status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 40));
      }
      await waitFor(async () => (await summary()).count >= sent.length, `${sent.length} readings on the chart`, 30_000);
      const shown = await summary();
      expect(shown.count).toBe(sent.length); // none missing, none twice
      expect(shown.sum).toBeCloseTo(
        sent.reduce((a, b) => a + b, 0),
        6,
      );
      expect(shown.max).toBe(99); // the spike survives the buckets
      expect(shown.points).toBeLessThan(2000 + 40); // drawn as buckets, not readings
    } finally {
      await page.close();
      await app.close();
      await store.close();
    }
  });

  it('live readings that arrive while the history loads: those up to its cursor are not drawn twice, those after it are drawn', async () => {
    // 2,000 stored readings over the last 50 minutes: the hour is drawn as buckets (no per-reading
    // bookkeeping to hide a doubled point: only the cursor decides).
    const store = openSqliteStore({ path: join(dir.path, 'handover.db') });
    const now = Date.now();
    const stored: number[] = [];
    const batch = [];
    for (let i = 0; i < 2000; i += 1) {
      const value = Math.round((20 + Math.sin(i / 50) * 3) * 10) / 10;
      stored.push(value);
      batch.push({ sensor: 'temperature', t: now - 3_000_000 + i * 1500, value });
    }
    await store.write(batch);
    const app = await start({ assetsDir: chromium.assetsDir, store });
    const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const received = () =>
      page.evaluate(() => (window as unknown as { __dashboard: { received: number } }).__dashboard.received);
    const before = [30.1, 30.2, 30.3, 30.4, 30.5]; // recorded before the query answers: in the history, id <= cursor
    const after = [31.1, 31.2, 31.3, 31.4, 31.5]; // recorded after it: live only, id > cursor
    /** Temperature readings as one batch, accepted (200). */
    const postTemperatures = async (values: number[]) =>
      expect(
        (
          await post(
            app.url,
            values.map((value) => ({ sensor: 'temperature', value })),
          )
        ).status,
      ).toBe(200);
    let held = false;
    // Hold the page's temperature query: readings arrive on its stream (and wait) on both sides of the answer.
    await page.route(/\/api\/telemetry\/query\?.*sensor=temperature/, async (route) => {
      if (held) return route.continue();
      held = true;
      await postTemperatures(before);
      await waitFor(async () => (await received()) >= before.length, 'the first live readings on the page');
      const answer = await route.fetch(); // the server flushes its recorder: the cursor covers `before`
      const body = (await answer.json()) as { cursor: string | null; buckets: { count: number }[] };
      expect(body.buckets.reduce((n, b) => n + b.count, 0)).toBe(stored.length + before.length);
      await postTemperatures(after);
      await waitFor(async () => (await received()) >= before.length + after.length, 'the later live readings');
      await route.fulfill({ response: answer, json: body });
    });
    try {
      await page.goto(`${app.url}/?range=1h`);
      const all = [...stored, ...before, ...after];
      const summary = () =>
        page.evaluate(() => {
          const points =
            (
              window as unknown as {
                __dashboard: {
                  histories: Record<string, { points: { value: number; count: number; min: number | null }[] }>;
                };
              }
            ).__dashboard.histories.temperature?.points ?? [];
          return {
            count: points.reduce((n, p) => n + p.count, 0),
            sum: points.reduce((n, p) => n + p.value * p.count, 0),
            // Single readings (no min/max) among the buckets: the ones drawn live.
            live: points.filter((p) => p.min === null).map((p) => p.value),
          };
        });
      await waitFor(async () => (await summary()).count >= all.length, `${all.length} readings on the chart`, 30_000);
      // Give a doubled reading time to show.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const shown = await summary();
      expect(shown.count).toBe(all.length); // `before` once (from the history), `after` once (live)
      expect(shown.sum).toBeCloseTo(
        all.reduce((a, b) => a + b, 0),
        6,
      );
      expect(shown.live).toEqual(after); // drawn as live points (at their times, among the buckets)
      const table = await page.$$eval('table[data-table="temperature"] tbody tr', (rows) =>
        rows.map((row) => Number((row as HTMLElement).dataset.value)),
      );
      expect(table).toEqual([...before, ...after].reverse());
    } finally {
      await page.close();
      await app.close();
      await store.close();
    }
  }, 60_000);

  it('two equal readings that both arrive live are both drawn, as the hub state has them', async () => {
    const app = await start({ assetsDir: chromium.assetsDir });
    const page = await chromium.browser.newPage();
    try {
      await page.goto(`${app.url}/?range=10m`);
      await page.locator('#connection[data-status="open"]').waitFor({ timeout: 10_000 });
      await waitFor(
        async () =>
          (await page.evaluate(() => (window as unknown as { __dashboard: { loads: number } }).__dashboard.loads)) >= 3,
        'the first history load',
      );
      const at = Date.now();
      // The inject command makes such pairs by chance: same sensor, same millisecond, same value.
      await post(app.url, [
        { sensor: 'temperature', value: 21.5, at },
        { sensor: 'temperature', value: 21.5, at },
        { sensor: 'temperature', value: 22, at },
      ]);
      await waitFor(async () => (await chartPoints(page)).length === 3, 'three points');
      expect((await chartPoints(page)).map(([, v]) => v)).toEqual(
        app.hub.state.sensors.temperature.points.map((p) => p.value),
      );
    } finally {
      await page.close();
      await app.close();
    }
  });
});
