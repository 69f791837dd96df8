import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoardcastError, createHub, defineContract, typed } from '@boardcast/core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { record } from '../src/index.js';
import { openSqliteStore, type SqliteStore } from '../src/sqlite.js';
import type { TelemetryStore } from '../src/types.js';
import { driver, nativeBinding } from './native.js';

const contract = defineContract({
  events: {
    reading: typed<{ sensor: string; value: number; at?: number } | { sensor: string; value: number; at?: number }[]>(),
    led: typed<{ on: boolean }>(),
  },
  commands: {},
  state: typed<Record<string, never>>(),
});

const dir = mkdtempSync(join(tmpdir(), 'boardcast-telemetry-record-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function setup(): { hub: ReturnType<typeof createHub<typeof contract>>; store: SqliteStore } {
  n += 1;
  const store = openSqliteStore({ path: join(dir, `r${n}.db`), pruneIntervalMs: 0, nativeBinding, driver });
  const hub = createHub(contract, { state: {} });
  cleanup.push(
    () => store.close(),
    () => hub.close(),
  );
  return { hub, store };
}

/** The real store, with its writes held back (or failing) on demand: the slow or broken disk of a test. */
function gated(store: TelemetryStore) {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  let failures = 0;
  const wrapped: TelemetryStore = Object.create(store, {
    write: {
      value: async (...args: Parameters<TelemetryStore['write']>) => {
        if (gate) await gate;
        if (failures > 0) {
          failures -= 1;
          throw new Error('disk I/O error');
        }
        return store.write(...args);
      },
    },
  });
  return {
    store: wrapped,
    hold() {
      gate = new Promise((resolve) => {
        open = resolve;
      });
    },
    release() {
      gate = undefined;
      open?.();
    },
    fail(times: number) {
      failures = times;
    },
  };
}

describe('record(hub, store)', () => {
  it('records readings of every channel without the program writing code, with the cursor of each batch', async () => {
    const { hub, store } = setup();
    const recorder = record(hub, store, { units: { temperature: '°C' }, flushIntervalMs: 10, now: () => 1_000_000 });
    const at = Date.now();
    await hub.publish('reading', { sensor: 'temperature', value: 21.5, at });
    await hub.publish('led', { on: true });
    await hub.channel('greenhouse').publish('reading', [
      { sensor: 'humidity', value: 40, at },
      { sensor: 'humidity', value: 41, at: at + 1 },
    ]);
    const last = await hub.publish('reading', { sensor: 'temperature', value: 22, at: at + 5 });
    await recorder.flush();
    expect(await store.cursor()).toBe(last);
    expect(await store.latest()).toEqual([
      { channel: 'default', sensor: 'temperature', unit: '°C', t: at + 5, value: 22 },
      { channel: 'greenhouse', sensor: 'humidity', unit: null, t: at + 1, value: 41 },
    ]);
    expect(recorder.stats).toMatchObject({ queued: 0, written: 4, refused: 0, dropped: 0 });
    expect(await recorder.close()).toBe(0);
  });

  it('a reading without `at` gets the time it arrived', async () => {
    const { hub, store } = setup();
    const arrived = Date.now() - 5_000;
    const recorder = record(hub, store, { now: () => arrived });
    await hub.publish('reading', { sensor: 's', value: 1 });
    await recorder.close();
    expect(await store.recent({ sensor: 's' })).toMatchObject([{ t: arrived, value: 1 }]);
  });

  it('refuses a malformed reading (NaN) with invalid_payload and records the rest', async () => {
    const { hub, store } = setup();
    const recorder = record(hub, store);
    const refusals: BoardcastError[] = [];
    recorder.on('refused', (error) => refusals.push(error));
    await hub.publish('reading', [
      { sensor: 's', value: Number.NaN, at: Date.now() },
      { sensor: 's', value: 3, at: Date.now() },
    ]);
    await recorder.close();
    expect(refusals.map((e) => e.code)).toEqual(['invalid_payload']);
    expect(recorder.stats).toMatchObject({ refused: 1, written: 1 });
    expect(await store.recent({ sensor: 's' })).toMatchObject([{ value: 3 }]);
  });

  it('a full queue drops new readings and says so: overload, queue_full, recovered with the count', async () => {
    const { hub, store } = setup();
    const gate = gated(store);
    gate.hold();
    const recorder = record(hub, gate.store, { batchSize: 50, maxQueue: 100, flushIntervalMs: 10 });
    const events: string[] = [];
    const errors: unknown[] = [];
    recorder.on('overload', (info) => events.push(`overload ${info.queued}/${info.maxQueue}`));
    recorder.on('recovered', (info) => events.push(`recovered ${info.dropped}`));
    recorder.on('error', (error) => errors.push(error));
    const at = Date.now();
    for (let i = 0; i < 300; i += 1) await hub.publish('reading', { sensor: 's', value: i, at: at + i });
    expect(recorder.stats).toMatchObject({ queued: 100, dropped: 200 });
    expect(events).toEqual(['overload 100/100']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(BoardcastError);
    expect((errors[0] as BoardcastError).code).toBe('queue_full');
    gate.release();
    await recorder.flush();
    expect(events).toEqual(['overload 100/100', 'recovered 200']);
    expect(recorder.stats).toMatchObject({ queued: 0, written: 100, dropped: 200 });
    // The first 100 readings are stored, the dropped ones are not: nothing is hidden.
    expect((await store.stats({ sensor: 's', from: at }))?.count).toBe(100);
    await recorder.close();
  });

  it('a failing write is reported and retried, keeping the order', async () => {
    const { hub, store } = setup();
    const gate = gated(store);
    gate.fail(2);
    const recorder = record(hub, gate.store, { batchSize: 10, flushIntervalMs: 5 });
    const where: string[] = [];
    recorder.on('error', (_error, at) => where.push(at));
    const at = Date.now();
    let last = '';
    for (let i = 0; i < 25; i += 1) last = await hub.publish('reading', { sensor: 's', value: i, at: at + i });
    await recorder.flush();
    expect(where).toEqual(['telemetry write', 'telemetry write']);
    expect(recorder.stats).toMatchObject({ written: 25, failedWrites: 2, queued: 0 });
    expect(await store.cursor()).toBe(last);
    expect((await store.recent({ sensor: 's', limit: 100 })).map((r) => r.value)).toEqual(
      Array.from({ length: 25 }, (_, i) => 24 - i),
    );
    await recorder.close();
  });

  it('close() writes what is queued and stops listening', async () => {
    const { hub, store } = setup();
    const recorder = record(hub, store, { flushIntervalMs: 60_000 });
    await hub.publish('reading', { sensor: 's', value: 1, at: Date.now() });
    expect(recorder.stats.queued).toBe(1);
    expect(await recorder.close()).toBe(0);
    await hub.publish('reading', { sensor: 's', value: 2, at: Date.now() });
    expect(recorder.stats.queued).toBe(0);
    expect((await store.recent({ sensor: 's' })).map((r) => r.value)).toEqual([1]);
  });

  it('flush() resolves under a steady stream once what was queued at the call is stored', async () => {
    const { hub, store } = setup();
    const gate = gated(store);
    const recorder = record(hub, gate.store, { batchSize: 100, flushIntervalMs: 60_000 });
    let stop = false;
    let n = 0;
    const at = Date.now();
    // Readings keep coming, faster than the (held-back) store writes them.
    const pump = (async () => {
      while (!stop) {
        for (let i = 0; i < 50; i += 1) await hub.publish('reading', { sensor: 's', value: n, at: at + n++ });
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    while (n < 500) await new Promise((resolve) => setTimeout(resolve, 5));
    const queuedAtCall = n;
    gate.hold();
    const flushed = recorder.flush();
    setTimeout(() => gate.release(), 50);
    await flushed;
    stop = true;
    await pump;
    expect(recorder.stats.written).toBeGreaterThanOrEqual(queuedAtCall);
    expect((await store.stats({ sensor: 's', from: at }))?.count).toBeGreaterThanOrEqual(queuedAtCall);
    await recorder.close();
  });
});
