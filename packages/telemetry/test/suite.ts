/**
 * The one test suite every store runs (sqlite.test.ts, postgres.test.ts):
 * same calls, same expected answers.
 */
import { BoardcastError, createHub, defineContract, typed } from '@boardcast/core';
import type { HubSink } from '@boardcast/core/wire';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { record } from '../src/index.js';
import type { Bucket, Reading, StoreOptions, TelemetryStore } from '../src/types.js';

/** Open a store on database `db` (a file, a schema): every test gets a fresh one; calls within a test share it. */
export type OpenStore = (options: StoreOptions, db: string) => Promise<TelemetryStore>;

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** A fixed "now" (the stores take a clock), a Saturday at noon UTC. */
const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);

/** Deterministic pseudo-random numbers (fixed seed: the same data on every run). */
export function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

/** What a chart should show, computed in JS from the readings themselves. */
export function expectedBuckets(readings: readonly Reading[], bucketMs: number, from: number, to: number): Bucket[] {
  const start = Math.floor(from / bucketMs) * bucketMs;
  const end = Math.ceil(to / bucketMs) * bucketMs;
  const map = new Map<number, { min: number; max: number; sum: number; count: number; lastT: number; last: number }>();
  for (const { t, value } of readings) {
    if (t < start || t >= end) continue;
    const b = Math.floor(t / bucketMs) * bucketMs;
    const row = map.get(b);
    if (!row) map.set(b, { min: value, max: value, sum: value, count: 1, lastT: t, last: value });
    else {
      row.min = Math.min(row.min, value);
      row.max = Math.max(row.max, value);
      row.sum += value;
      row.count += 1;
      if (t > row.lastT || (t === row.lastT && value > row.last)) {
        row.lastT = t;
        row.last = value;
      }
    }
  }
  return [...map.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([t, r]) => ({ t, min: r.min, max: r.max, avg: r.sum / r.count, count: r.count, last: r.last }));
}

function expectSameBuckets(actual: readonly Bucket[], expected: readonly Bucket[]): void {
  expect(actual.map(({ avg, ...rest }) => rest)).toEqual(expected.map(({ avg, ...rest }) => rest));
  actual.forEach((bucket, i) => {
    expect(bucket.avg).toBeCloseTo((expected[i] as Bucket).avg, 9);
  });
}

/** 1 Hz readings of one sensor over [from, from + seconds s), a sine with noise. */
function series(sensor: string, from: number, seconds: number, seed = 1, channel?: string): Reading[] {
  const random = lcg(seed);
  const out: Reading[] = [];
  for (let i = 0; i < seconds; i += 1) {
    out.push({
      channel,
      sensor,
      t: from + i * 1000,
      value: Math.round((20 + 5 * Math.sin(i / 600) + random()) * 100) / 100,
    });
  }
  return out;
}

async function writeAll(store: TelemetryStore, readings: readonly Reading[], size = 5_000): Promise<void> {
  for (let i = 0; i < readings.length; i += size) await store.write(readings.slice(i, i + size));
}

async function refused(promise: Promise<unknown>, code: string): Promise<BoardcastError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BoardcastError);
  expect((error as BoardcastError).code).toBe(code);
  return error as BoardcastError;
}

export function storeSuite(name: string, open: OpenStore): void {
  describe(`${name} store`, () => {
    let now = T0;
    let db = '';
    let count = 0;
    const opened: TelemetryStore[] = [];
    beforeEach(() => {
      count += 1;
      db = `t${count}`;
    });
    const make = async (options: StoreOptions = {}) => {
      const store = await open({ now: () => now, pruneIntervalMs: 0, ...options }, db);
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      now = T0;
      for (const store of opened.splice(0)) await store.close();
    });

    it('stores readings and answers recent, latest, series and stats', async () => {
      const store = await make();
      const result = await store.write([
        { sensor: 'temperature', t: T0 - 3000, value: 21.5, unit: '°C' },
        { sensor: 'temperature', t: T0 - 2000, value: 22 },
        { sensor: 'temperature', t: T0 - 1000, value: 21 },
        { channel: 'greenhouse', sensor: 'humidity', t: T0 - 500, value: 55, unit: '%' },
      ]);
      expect(result).toEqual({ written: 4, duplicates: 0, tooOld: 0, tooNew: 0 });
      expect(await store.recent({ sensor: 'temperature', limit: 2 })).toEqual([
        { channel: 'default', sensor: 'temperature', t: T0 - 1000, value: 21 },
        { channel: 'default', sensor: 'temperature', t: T0 - 2000, value: 22 },
      ]);
      expect(await store.latest()).toEqual([
        { channel: 'default', sensor: 'temperature', unit: '°C', t: T0 - 1000, value: 21 },
        { channel: 'greenhouse', sensor: 'humidity', unit: '%', t: T0 - 500, value: 55 },
      ]);
      expect(await store.latest({ channel: 'greenhouse' })).toHaveLength(1);
      expect(await store.series()).toEqual([
        { channel: 'default', sensor: 'temperature', unit: '°C' },
        { channel: 'greenhouse', sensor: 'humidity', unit: '%' },
      ]);
      const stats = await store.stats({ sensor: 'temperature', from: T0 - HOUR });
      expect(stats).toMatchObject({ min: 21, max: 22, count: 3, last: 21, lastT: T0 - 1000, tier: 'raw' });
      expect(stats?.avg).toBeCloseTo(64.5 / 3, 12);
      expect(await store.stats({ sensor: 'nothing', from: T0 - HOUR })).toBeUndefined();
      expect(await store.recent({ sensor: 'nothing' })).toEqual([]);
    });

    it('answers a chart from the finest tier whose retention covers the range, never more than maxPoints', async () => {
      const store = await make();
      await store.write([{ sensor: 's', t: T0 - 1000, value: 1 }]);
      const cases: [number, number | undefined, number, string, number][] = [
        // from, to, maxPoints → tier, bucketMs
        [T0 - 10 * MIN, T0, 600, 'raw', 1002], // ceil(600 s / 599)
        [T0 - DAY, T0, 1000, 'minute', 2 * MIN],
        [T0 - 7 * DAY, T0, 1000, 'minute', 11 * MIN],
        [T0 - 90 * DAY, T0, 1000, 'hour', 3 * HOUR],
        // Short but older than the raw tier's 48 h: the minute tier answers, at its step.
        [T0 - 3 * DAY, T0 - 3 * DAY + 10 * MIN, 600, 'minute', MIN],
        // Older than the minute tier's 30 days: hours.
        [T0 - 40 * DAY, T0 - 40 * DAY + 10 * MIN, 600, 'hour', HOUR],
      ];
      for (const [from, to, maxPoints, tier, bucketMs] of cases) {
        const answer = await store.query({ sensor: 's', from, to, maxPoints });
        expect({ from, tier: answer.tier, bucketMs: answer.bucketMs }).toEqual({ from, tier, bucketMs });
        const start = Math.floor(from / bucketMs) * bucketMs;
        const end = Math.ceil((to as number) / bucketMs) * bucketMs;
        expect((end - start) / bucketMs).toBeLessThanOrEqual(maxPoints);
      }
    });

    it('downsampling keeps every min and max: a one-second spike survives in every tier', async () => {
      const store = await make();
      const readings = series('s', T0 - 3 * HOUR, 3 * 3600, 7);
      // One spike and one dip, one second each.
      (readings[5000] as { value: number }).value = 99.5;
      (readings[9000] as { value: number }).value = -40.25;
      await writeAll(store, readings);
      for (const [from, maxPoints, tier] of [
        [T0 - 3 * HOUR, 100, 'minute'],
        [T0 - 3 * HOUR, 2, 'hour'],
        [T0 - 3 * HOUR, 5000, 'raw'],
        [T0 - 20 * MIN, 1000, 'raw'],
      ] as const) {
        const answer = await store.query({ sensor: 's', from, to: T0, maxPoints });
        expect(answer.tier).toBe(tier);
        expect(answer.buckets.length).toBeLessThanOrEqual(maxPoints);
        expectSameBuckets(answer.buckets, expectedBuckets(readings, answer.bucketMs, from, T0));
        if (from === T0 - 3 * HOUR) {
          expect(Math.max(...answer.buckets.map((b) => b.max))).toBe(99.5);
          expect(Math.min(...answer.buckets.map((b) => b.min))).toBe(-40.25);
          expect(answer.buckets.reduce((n, b) => n + b.count, 0)).toBe(readings.length);
        }
      }
      // Stats over the whole range from each tier agree with the readings.
      const stats = await store.stats({ sensor: 's', from: T0 - 3 * HOUR, to: T0 });
      expect(stats).toMatchObject({ min: -40.25, max: 99.5, count: readings.length, tier: 'raw' });
      now = T0 + 3 * DAY; // raw no longer covers the range: minutes answer, same numbers
      const later = await store.stats({ sensor: 's', from: T0 - 3 * HOUR, to: T0 });
      expect(later).toMatchObject({ min: -40.25, max: 99.5, count: readings.length, tier: 'minute' });
      expect(later?.avg).toBeCloseTo(stats?.avg as number, 9);
      expect(later?.last).toBe(stats?.last);
    });

    it('an open range takes everything from `from` on, also readings a device stamped ahead of the store clock', async () => {
      const store = await make();
      // Ten minutes up to T0, then four minutes ahead of the store's clock (within the 5 min it accepts).
      const readings = series('s', T0 - 10 * MIN, 14 * 60, 11);
      await writeAll(store, readings);
      for (const [from, maxPoints, tier] of [
        [T0 - 10 * MIN, 600, 'raw'],
        [T0 - 10 * MIN, 10, 'minute'],
      ] as const) {
        const answer = await store.query({ sensor: 's', from, maxPoints });
        expect(answer.tier).toBe(tier);
        expect(answer.buckets.length).toBeLessThanOrEqual(maxPoints);
        expect(answer.buckets.reduce((n, b) => n + b.count, 0)).toBe(readings.length);
        const newest = readings.at(-1) as Reading;
        expect(answer.buckets.at(-1)?.last).toBe(newest.value);
        expectSameBuckets(answer.buckets, expectedBuckets(readings, answer.bucketMs, from, newest.t + 1));
      }
    });

    it('retention deletes what is due and nothing else, tier by tier', async () => {
      const store = await make({ retention: { raw: HOUR, minute: DAY, hour: 7 * DAY } });
      // One reading per minute from T0 - 30 min to T0 (31 readings).
      const readings = Array.from({ length: 31 }, (_, i) => ({ sensor: 's', t: T0 - (30 - i) * MIN, value: i }));
      await store.write(readings);
      expect(await store.prune()).toEqual({ raw: 0, minute: 0, hour: 0 });
      // 45 min later the raw cutoff is T0 - 15 min: the 15 readings before it go, the 16 from it stay.
      now = T0 + 45 * MIN;
      expect(await store.prune()).toEqual({ raw: 15, minute: 0, hour: 0 });
      const kept = await store.recent({ sensor: 's', limit: 100 });
      expect(kept.map((r) => r.value)).toEqual(Array.from({ length: 16 }, (_, i) => 30 - i));
      // The minute tier still has all 31.
      const minutes = await store.query({ sensor: 's', from: T0 - 30 * MIN, to: T0 + MIN, maxPoints: 100 });
      expect(minutes.tier).toBe('minute');
      expect(minutes.buckets.reduce((n, b) => n + b.count, 0)).toBe(31);
      // A day after T0 - 15 min the minute rows before that go; hours keep everything.
      now = T0 - 15 * MIN + DAY;
      const second = await store.prune();
      expect(second).toEqual({ raw: 16, minute: 15, hour: 0 });
      const hours = await store.stats({ sensor: 's', from: T0 - HOUR, to: T0 + HOUR });
      expect(hours).toMatchObject({ tier: 'hour', count: 31, min: 0, max: 30, last: 30 });
      now = T0 + 7 * DAY + 2 * HOUR;
      expect((await store.prune()).hour).toBe(2); // the 11:00 and 12:00 hours
      expect(await store.stats({ sensor: 's', from: T0 - HOUR, to: T0 + HOUR })).toBeUndefined();
      // The latest value of a sensor outlives its rows.
      expect(await store.latest()).toMatchObject([{ sensor: 's', t: T0, value: 30 }]);
    });

    it('clock rule: readings older than raw retention or more than 5 min ahead are dropped and counted', async () => {
      const store = await make();
      const result = await store.write([
        { sensor: 's', t: T0 - 48 * HOUR - 1, value: 1 }, // device clock behind
        { sensor: 's', t: T0 - 48 * HOUR, value: 2 },
        { sensor: 's', t: T0 + 5 * MIN, value: 3 },
        { sensor: 's', t: T0 + 5 * MIN + 1, value: 4 }, // device clock ahead
      ]);
      expect(result).toEqual({ written: 2, duplicates: 0, tooOld: 1, tooNew: 1 });
      expect((await store.recent({ sensor: 's' })).map((r) => r.value)).toEqual([3, 2]);
      // A clock that jumps back: what was stored stays, readings keep their own timestamps.
      now = T0 - HOUR;
      expect(await store.write([{ sensor: 's', t: T0 - HOUR, value: 5 }])).toMatchObject({ written: 1 });
      expect((await store.latest())[0]).toMatchObject({ t: T0 + 5 * MIN, value: 3 });
    });

    it('out-of-order and duplicate readings give the same answer as in-order ones; duplicates are dropped', async () => {
      const store = await make();
      const readings = series('a', T0 - 2 * HOUR, 7200, 3);
      await writeAll(store, readings);
      // The same readings for sensor b, shuffled, in small batches, each sent twice.
      const random = lcg(11);
      const shuffled = readings.map((r) => ({ ...r, sensor: 'b' }));
      for (let i = shuffled.length - 1; i > 0; i -= 1) {
        const j = Math.floor(random() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j] as Reading, shuffled[i] as Reading];
      }
      let duplicates = 0;
      for (let i = 0; i < shuffled.length; i += 700) {
        const batch = shuffled.slice(i, i + 700);
        await store.write(batch);
        duplicates += (await store.write([...batch].reverse())).duplicates;
      }
      expect(duplicates).toBe(readings.length);
      for (const maxPoints of [50, 1000, 10_000]) {
        const a = await store.query({ sensor: 'a', from: T0 - 2 * HOUR, to: T0, maxPoints });
        const b = await store.query({ sensor: 'b', from: T0 - 2 * HOUR, to: T0, maxPoints });
        // Sums added in another order differ in the last bits: avg is compared to 9 digits.
        expectSameBuckets(b.buckets, a.buckets);
      }
      const statsA = await store.stats({ sensor: 'a', from: T0 - DAY });
      const statsB = await store.stats({ sensor: 'b', from: T0 - DAY });
      expect({ ...statsB, avg: 0 }).toEqual({ ...statsA, avg: 0 });
      expect(statsB?.avg).toBeCloseTo(statsA?.avg as number, 9);
      // Same timestamp, different values: two readings, both kept; `last` is the greater value.
      const same = await store.write([
        { sensor: 'c', t: T0, value: 2 },
        { sensor: 'c', t: T0, value: 7 },
        { sensor: 'c', t: T0, value: 2 },
      ]);
      expect(same).toMatchObject({ written: 2, duplicates: 1 });
      const answer = await store.query({ sensor: 'c', from: T0 - MIN, to: T0 + MIN, maxPoints: 10 });
      expect(answer.buckets).toEqual([
        { t: Math.floor(T0 / answer.bucketMs) * answer.bucketMs, min: 2, max: 7, avg: 4.5, count: 2, last: 7 },
      ]);
      const hour = await store.query({ sensor: 'c', from: T0 - 10 * DAY, to: T0 + MIN, maxPoints: 10 });
      expect(hour.buckets.map((b) => [b.count, b.last])).toEqual([[2, 7]]);
      expect(await store.latest({ sensor: 'c' })).toMatchObject([{ t: T0, value: 7 }]);
    });

    it('refuses NaN, Infinity and malformed readings with invalid_payload, writing nothing of the batch', async () => {
      const store = await make();
      const good = { sensor: 's', t: T0, value: 1 };
      for (const bad of [
        { sensor: 's', t: T0, value: Number.NaN },
        { sensor: 's', t: T0, value: Number.POSITIVE_INFINITY },
        { sensor: 's', t: T0, value: Number.NEGATIVE_INFINITY },
        { sensor: 's', t: T0, value: '1' as unknown as number },
        { sensor: 's', t: Number.NaN, value: 1 },
        { sensor: '', t: T0, value: 1 },
        { sensor: 's s', t: T0, value: 1 },
        { channel: '../etc', sensor: 's', t: T0, value: 1 },
        null as unknown as Reading,
      ]) {
        await refused(store.write([good, bad]), 'invalid_payload');
      }
      const nan = await refused(store.write([{ sensor: 's', t: T0, value: Number.NaN }]), 'invalid_payload');
      expect(nan.details).toEqual({ reason: 'not_finite' });
      expect(await store.recent({ sensor: 's' })).toEqual([]);
      await refused(store.query({ sensor: 's', from: T0, maxPoints: 1 }), 'invalid_payload');
      await refused(store.query({ sensor: 's', from: T0, to: T0, maxPoints: 10 }), 'invalid_payload');
      await refused(store.query({ sensor: 's', from: Number.NaN, maxPoints: 10 }), 'invalid_payload');
      await refused(store.recent({ sensor: 's', limit: 0 }), 'invalid_payload');
      await refused(store.write([good], { eventId: '' }), 'invalid_payload');
      // The store still works.
      expect(await store.write([good])).toMatchObject({ written: 1 });
    });

    it('keeps one cursor per source that only moves forward in bus order', async () => {
      const store = await make();
      expect(await store.cursor()).toBeNull();
      const r = (value: number) => [{ sensor: 's', t: T0 + value, value }];
      await store.write(r(1), { eventId: '1700000000000-5' });
      await store.write(r(2), { eventId: '1700000000000-4' }); // an older id (a second writer behind)
      expect(await store.cursor()).toBe('1700000000000-5');
      await store.write(r(3), { eventId: '1700000000001-0' });
      expect(await store.cursor()).toBe('1700000000001-0');
      await store.write(r(4), { eventId: 'k3x9-12', source: 'memory' });
      await store.write(r(5), { eventId: 'k3x9-9', source: 'memory' });
      expect(await store.cursor('memory')).toBe('k3x9-12');
      // A new epoch is a restarted bus: its ids follow all of the old one's.
      await store.write(r(6), { eventId: 'zz01-1', source: 'memory' });
      expect(await store.cursor('memory')).toBe('zz01-1');
      expect(await store.cursor()).toBe('1700000000001-0');
      const answer = await store.query({ sensor: 's', from: T0, maxPoints: 10 });
      expect(answer.cursor).toBe('1700000000001-0');
      expect(answer.buckets.reduce((n, b) => n + b.count, 0)).toBe(6);
    });

    it('two instances writing the same readings at once store each reading once', async () => {
      const a = await make();
      const b = await make();
      const readings = series('s', T0 - HOUR, 3600, 5);
      await Promise.all([writeAll(a, readings, 500), writeAll(b, [...readings].reverse(), 300)]);
      const answer = await a.query({ sensor: 's', from: T0 - HOUR, to: T0, maxPoints: 30 });
      expectSameBuckets(answer.buckets, expectedBuckets(readings, answer.bucketMs, T0 - HOUR, T0));
      expect(await b.stats({ sensor: 's', from: T0 - HOUR })).toMatchObject({ count: 3600 });
    });

    it('fails closed calls with closed', async () => {
      const store = await make();
      await store.close();
      await refused(store.write([{ sensor: 's', t: T0, value: 1 }]), 'closed');
      await refused(store.query({ sensor: 's', from: T0, maxPoints: 10 }), 'closed');
      await store.close();
    });

    handOver(name, make, (value) => {
      now = value;
    });
  });
}

const contract = defineContract({
  events: { reading: typed<{ sensor: string; value: number; at: number }>() },
  commands: {},
  state: typed<Record<string, never>>(),
});

/** History → live: the chart's query and the channel `since` its cursor meet exactly. */
function handOver(
  name: string,
  make: (options?: StoreOptions) => Promise<TelemetryStore>,
  setNow: (t: number) => void,
) {
  it(`${name}: history then live under a steady stream, with equal and out-of-order timestamps: no gap, no duplicate`, async () => {
    const start = Date.now();
    setNow(start);
    const store = await make({ now: Date.now });
    const hub = createHub(contract, { state: {}, history: 100_000 });
    const recorder = record(hub, store, { batchSize: 37, flushIntervalMs: 5 });
    const published: { id: string; channel: string; value: number }[] = [];
    let n = 0;
    let stop = false;
    // Two channels; timestamps repeat (pairs share one) and run backwards now and then.
    const pump = (async () => {
      while (!stop) {
        for (let k = 0; k < 20; k += 1) {
          n += 1;
          const at = start + Math.floor(n / 2) * 10 - (n % 7 === 0 ? 500 : 0);
          const channel = n % 3 === 0 ? 'board-2' : 'default';
          const data = { sensor: 'temp', value: n, at };
          const id =
            channel === 'default'
              ? await hub.publish('reading', data)
              : await hub.channel(channel).publish('reading', data);
          published.push({ id, channel, value: n });
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    // Stop the stream however the test ends: a failed check left it publishing into a hub keeping
    // 100,000 events until the worker ran out of memory (and the recorder writing to a closed store).
    onTestFinished(async () => {
      stop = true;
      await pump;
      await recorder.close();
      await hub.close();
    });
    const sleep = () => new Promise((resolve) => setTimeout(resolve, 10));
    // Wait on counts, not time: a loaded machine may publish slowly, and the store writes behind the bus.
    const grown = async (count: number) => {
      while (published.length < count) await sleep();
    };
    await grown(300);
    while (recorder.stats.written < 100) await sleep();
    // The page: each channel's history first (each answer carries its own cursor) …
    const history = await Promise.all(
      ['default', 'board-2'].map((channel) =>
        store.query({ channel, sensor: 'temp', from: start - HOUR, maxPoints: 100_000 }),
      ),
    );
    const cursors = history.map((answer) => answer.cursor as string);
    expect(cursors.every(Boolean)).toBe(true);
    // … then live from that cursor: the 0.1 stream of the default channel resumed with lastEventId,
    // and board-2 added with since: its cursor.
    const live: { id: string; channel: string; value: number }[] = [];
    const sink = (channel: string | undefined): HubSink => ({
      snapshot: () => {
        throw new Error('a resume must not start with a snapshot');
      },
      reset: (reason) => {
        throw new Error(`reset: ${reason}`);
      },
      event: (frame) => {
        if (channel) {
          const { id, data } = frame as unknown as { id: string; data: { value: number } };
          live.push({ id, channel, value: data.value });
        } else {
          const parsed = JSON.parse(frame.ws) as { type: string; id: string; channel: string; data: { value: number } };
          if (parsed.type === 'event') live.push({ id: parsed.id, channel: parsed.channel, value: parsed.data.value });
        }
      },
    });
    const detach = hub.attach({ lastEventId: cursors[0] }, sink('default'));
    const connection = hub.connect({ channels: [{ channel: 'board-2', since: cursors[1] }] }, sink(undefined));
    await grown(published.length + 300);
    stop = true;
    await pump;
    await new Promise((resolve) => setTimeout(resolve, 50));
    detach();
    connection.close();
    await recorder.close();
    await hub.close();

    for (const [i, channel] of ['default', 'board-2'].entries()) {
      const cut = published.findIndex((p) => p.id === cursors[i]);
      expect(cut).toBeGreaterThan(0);
      expect(cut).toBeLessThan(published.length - 1); // the stream went on after the query
      const mine = (list: typeof published) => list.filter((p) => p.channel === channel);
      const before = mine(published.slice(0, cut + 1));
      const after = mine(published.slice(cut + 1));
      // History holds exactly this channel's readings up to its cursor (count and sum of values) …
      const buckets = history[i]?.buckets ?? [];
      expect(buckets.reduce((s, b) => s + b.count, 0)).toBe(before.length);
      expect(Math.round(buckets.reduce((s, b) => s + b.avg * b.count, 0))).toBe(
        before.reduce((s, p) => s + p.value, 0),
      );
      // … and live delivers exactly the rest, in bus order, none twice.
      expect(live.filter((l) => l.channel === channel)).toEqual(after);
      expect(after.length).toBeGreaterThan(0);
    }
  });
}
