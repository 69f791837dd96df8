import { join } from 'node:path';
import { openSqliteStore, type SqliteStore } from '@boardcast/telemetry/sqlite';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { chromiumPath } from '../../../test-support/system.js';
import type { RunningDashboard } from '../src/server.js';
import { openDashboard, pageInChromium } from './dashboard-page.js';
import { postReadings, start, tempDirForSuite, waitFor } from './helpers.js';

const MIN = 60_000;
const DAY = 86_400_000;
const RANGES = { '10m': 10 * MIN, '1h': 60 * MIN, '1d': DAY, '1w': 7 * DAY } as const;
type RangeId = keyof typeof RANGES;
const LABELS: Record<RangeId, string> = { '10m': '10 min', '1h': 'Hour', '1d': 'Day', '1w': 'Week' };

/** What the temperature chart shows: the uPlot columns (x in ms) and the page's points behind them. */
interface Shown {
  xs: number[];
  ys: number[];
  maxs: (number | null)[];
  counts: number[];
  /** The chart's width in pixels: the most points the page asks the store for (10 … 2,000). */
  width: number;
  loads: number;
  /** Whether the chart shows the page's current points (not a frame behind). */
  drawn: boolean;
}

function shown(page: Page): Promise<Shown> {
  return page.evaluate(() => {
    const d = (
      window as unknown as {
        __dashboard: {
          charts: Record<string, { data: (number | null)[][]; width: number }>;
          histories: Record<string, { points: { at: number; count: number }[] }>;
          loads: number;
        };
      }
    ).__dashboard;
    const chart = d.charts.temperature as { data: (number | null)[][]; width: number };
    return {
      xs: Array.from(chart.data[0] ?? [], (x) => Math.round((x as number) * 1000)),
      ys: Array.from(chart.data[1] ?? [], (y) => y as number),
      maxs: Array.from(chart.data[3] ?? []),
      counts: (d.histories.temperature?.points ?? []).map((p) => p.count),
      // The chart is redrawn on the next animation frame after its history changes.
      drawn:
        (chart.data[0] ?? []).length === (d.histories.temperature?.points ?? []).length &&
        (d.histories.temperature?.points ?? []).every((p, i) => (chart.data[0]?.[i] as number) * 1000 === p.at),
      width: chart.width,
      loads: d.loads,
    };
  });
}

const asked = (width: number) => Math.max(10, Math.min(2000, Math.floor(width)));
const sum = (ns: readonly number[]) => ns.reduce((a, b) => a + b, 0);

describe.skipIf(!chromiumPath)('the range picker (Chromium)', () => {
  const chromium = pageInChromium();
  const dir = tempDirForSuite('sensor-dashboard-range-');

  it('each range redraws the chart over that range from the store, within the points asked, and live points continue', async () => {
    // A week and an hour of temperature, one reading a minute, written through the store API before the
    // server starts (raw readings kept 8 days, so the store accepts a week back). Two spikes: one
    // 3 days ago (only the week shows it) and one 10 hours ago (the day and the week show it).
    const store: SqliteStore = openSqliteStore({ path: join(dir.path, 'week.db'), retention: { raw: 8 * DAY } });
    const end = Date.now() - 30_000;
    const seeded: { t: number; value: number }[] = [];
    const minutes = 7 * 24 * 60 + 60;
    for (let i = minutes; i >= 0; i -= 1) {
      const t = end - i * MIN;
      const value = i === 3 * 24 * 60 ? 70 : i === 10 * 60 ? 55 : Math.round((20 + 5 * Math.sin(i / 300)) * 100) / 100;
      seeded.push({ t, value });
    }
    for (let i = 0; i < seeded.length; i += 2000) {
      await store.write(
        seeded.slice(i, i + 2000).map(({ t, value }) => ({ sensor: 'temperature', t, value, unit: '°C' })),
      );
    }
    let app: RunningDashboard | undefined;
    let page: Page | undefined;
    try {
      app = await start({ assetsDir: chromium.assetsDir, store });
      let problems: string[];
      ({ page, problems } = await openDashboard(chromium.browser, `${app.url}/?range=1h`));
      const p = page;
      await waitFor(async () => {
        const chart = await shown(p);
        return chart.loads >= 3 && chart.drawn;
      }, 'the first history load');

      /** Click a range and wait for the three sensors' histories to load again; the time around it. */
      const pick = async (id: RangeId) => {
        const before = (await shown(p)).loads;
        const clicked = Date.now();
        await p.getByRole('radio', { name: LABELS[id] }).click();
        await waitFor(
          async () => {
            const chart = await shown(p);
            return chart.loads >= before + 3 && chart.drawn;
          },
          `the ${id} history`,
          15_000,
        );
        const loaded = Date.now();
        expect(new URL(p.url()).searchParams.get('range')).toBe(id);
        expect(await p.getByRole('radio', { name: LABELS[id] }).isChecked()).toBe(true);
        return { clicked, loaded, chart: await shown(p) };
      };

      /** The chart holds exactly the range's readings (as readings or as buckets), within the points asked. */
      const expectRange = (id: RangeId, clicked: number, loaded: number, chart: Shown) => {
        const rangeMs = RANGES[id];
        const { xs, counts } = chart;
        expect(xs.length).toBe(counts.length);
        expect(xs.length).toBeGreaterThan(0);
        expect(xs.length).toBeLessThanOrEqual(asked(chart.width));
        expect([...xs].sort((a, b) => a - b)).toEqual(xs);
        const inRange = seeded.filter((r) => r.t >= clicked - rangeMs);
        if (inRange.length <= asked(chart.width)) {
          // Few enough to draw each reading: exactly the readings from the range's start on.
          expect(counts.every((n) => n === 1)).toBe(true);
          const first = seeded.findIndex((r) => r.t === xs[0]);
          expect(first).toBeGreaterThan(0);
          expect(xs[0]).toBeGreaterThanOrEqual(clicked - rangeMs);
          expect((seeded[first - 1] as { t: number }).t).toBeLessThan(loaded - rangeMs);
          expect(xs).toEqual(seeded.slice(first).map((r) => r.t));
          expect(chart.ys).toEqual(seeded.slice(first).map((r) => r.value));
          return { bucketMs: 0 };
        }
        // Buckets: at their middles, adjacent (the week is stored without a hole), as many as the width allows.
        const bucketMs = Math.min(...xs.slice(1).map((x, i) => x - (xs[i] as number)));
        expect(bucketMs).toBeGreaterThanOrEqual(MIN);
        expect(bucketMs).toBeGreaterThanOrEqual(rangeMs / asked(chart.width));
        expect(xs.length).toBeGreaterThan(asked(chart.width) / 2);
        const start = (xs[0] as number) - bucketMs / 2;
        expect(start).toBeGreaterThan(clicked - rangeMs - bucketMs);
        expect(start).toBeLessThanOrEqual(loaded - rangeMs);
        expect(xs.at(-1)).toBeGreaterThanOrEqual((seeded.at(-1) as { t: number }).t - bucketMs);
        // Every reading of the aligned range once, none from before it.
        expect(sum(counts)).toBe(seeded.filter((r) => r.t >= start).length);
        return { bucketMs };
      };

      const maxShown = (chart: Shown) => Math.max(...chart.maxs.map((m, i) => m ?? (chart.ys[i] as number)));

      // The page opened on the hour: 60 or 61 readings, each drawn.
      const opened = await shown(p);
      expect(opened.xs.length).toBeGreaterThanOrEqual(60);
      expect(opened.xs.length).toBeLessThanOrEqual(61);

      let picked = await pick('10m');
      expectRange('10m', picked.clicked, picked.loaded, picked.chart);
      expect(picked.chart.xs.length).toBeLessThanOrEqual(11);

      picked = await pick('1d');
      expect(expectRange('1d', picked.clicked, picked.loaded, picked.chart).bucketMs).toBeLessThan(10 * MIN);
      expect(maxShown(picked.chart)).toBe(55); // the spike 10 hours ago, not averaged away; not the one 3 days ago

      picked = await pick('1w');
      expect(expectRange('1w', picked.clicked, picked.loaded, picked.chart).bucketMs).toBeGreaterThanOrEqual(
        (7 * DAY) / asked(picked.chart.width),
      );
      expect(maxShown(picked.chart)).toBe(70);

      // Live readings continue: each one more point, a single reading at its own time (which may fall
      // before the middle of the newest bucket). Nothing else changes, except that the window slides: a
      // first point whose span ended before the range's start may leave meanwhile.
      const live = async (id: RangeId, value: number) => {
        const before = await shown(p);
        const posted = Date.now();
        expect((await postReadings((app as RunningDashboard).url, { sensor: 'temperature', value })).status).toBe(200);
        const addedAt = (chart: Shown) => chart.xs.findIndex((x, i) => x >= posted && chart.ys[i] === value);
        const after = await waitFor(async () => {
          const chart = await shown(p);
          return addedAt(chart) >= 0 && chart.drawn ? chart : undefined;
        }, `live reading ${value}`);
        const added = addedAt(after);
        expect(after.counts[added]).toBe(1);
        const rest = [...after.xs.slice(0, added), ...after.xs.slice(added + 1)];
        const dropped = before.xs.length - rest.length;
        expect(dropped).toBeGreaterThanOrEqual(0);
        expect(dropped).toBeLessThanOrEqual(1);
        expect(rest).toEqual(before.xs.slice(dropped));
        if (dropped === 1) expect(before.xs[0]).toBeLessThan(Date.now() - RANGES[id]);
        expect(sum(after.counts)).toBe(sum(before.counts) + 1 - (dropped === 1 ? (before.counts[0] as number) : 0));
        seeded.push({ t: after.xs[added] as number, value });
      };
      await live('1w', 31.25);
      await live('1w', 31.5);

      // Back to the hour: the readings again, the live ones among them, and live goes on.
      picked = await pick('1h');
      expectRange('1h', picked.clicked, picked.loaded, picked.chart);
      expect(picked.chart.ys.slice(-2)).toEqual([31.25, 31.5]);
      await live('1h', 32.75);
      expect(problems).toEqual([]);
    } finally {
      await page?.close();
      await app?.close();
      await store.close();
    }
  }, 60_000);
});
