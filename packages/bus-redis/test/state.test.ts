import { createHub, defineContract, typed } from '@boardcast/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy } from '../../../test-support/tcp-proxy.js';
import { RedisBus, type RedisBusOptions } from '../src/index.js';
import { wireClient } from './fixtures.js';
import { eventually, type RedisProcess, redisServerPath, startRedis } from './redis-server.js';

interface CounterState {
  readonly seen: readonly number[];
  readonly label: string;
}

const counter = defineContract({
  events: { change: typed<number>(), note: typed<string>() },
  commands: {},
  state: typed<CounterState>(),
  reducers: { change: (state, n) => ({ ...state, seen: [...state.seen, n] }) },
});
const initial: CounterState = { seen: [], label: 'start' };
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** A fixed-seed generator (mulberry32): the same attaches and resumes on every run, in CI too. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe.skipIf(!redisServerPath)('state on Redis: folded from the stream on every instance', () => {
  let redis: RedisProcess;
  let admin: Redis;
  const hubs: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  afterEach(async () => {
    for (const hub of hubs.splice(0)) await hub.close();
    await admin.flushall();
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  async function start(options: Omit<RedisBusOptions, 'redis'> = {}, url = redis.url) {
    const bus = new RedisBus({ redis: url, name: 'state', ...options });
    const hub = createHub(counter, { state: initial, bus });
    hubs.push(hub);
    await hub.ready;
    return { bus, hub };
  }

  it('320 changes on A while clients attach and resume on B at random moments: each applied exactly once', async () => {
    const options = { history: 200 }; // checkpoints every 50 events; resumes across > 200 events reset
    const a = await start(options);
    const b = await start(options);
    type Client = ReturnType<typeof wireClient<CounterState>>;
    const live = new Map<Client, () => void>();
    let attached = 0;
    let resumes = 0;
    const attach = (lastEventId?: string) => {
      const client = wireClient<CounterState>(counter.reducers);
      live.set(client, b.hub.attach({ lastEventId }, client.sink));
      attached++;
      return client;
    };
    let late: Awaited<ReturnType<typeof start>> | undefined;
    const pending: Promise<unknown>[] = [];
    let label = 0;
    const random = seeded(0xb0a2dca5);
    /** A client drops and resumes from its last id on B (sometimes past history: reset + snapshot). */
    const resume = (old: Client) => {
      live.get(old)?.();
      live.delete(old);
      const client = attach(old.lastId);
      client.state = old.state;
      resumes++;
    };
    for (let n = 1; n <= 320; n++) {
      pending.push(a.hub.publish('change', n));
      if (n % 9 === 0) pending.push(a.hub.setState((s) => ({ ...s, label: `label ${++label}` })));
      if (random() < 0.12 || live.size === 0) attach();
      const old = [...live.keys()][Math.floor(random() * live.size)];
      if (old && random() < 0.05 && old.lastId !== undefined) resume(old);
      // Every 64th change one resume whatever the timing: once B has delivered the client an event,
      // however loaded the machine (a client with no id yet cannot resume).
      if (old && n % 64 === 0) {
        await eventually(() => expect(old.lastId).toBeDefined());
        if (live.has(old)) resume(old);
      }
      if (n === 160) late = await start(options); // starts from a checkpoint plus the events after it
      if (random() < 0.3) await new Promise((resolve) => setTimeout(resolve, random() * 3));
    }
    await Promise.all(pending);
    const expected = { seen: upTo(320), label: `label ${label}` };
    expect(a.hub.state).toEqual(expected);
    await eventually(() => expect(b.hub.headId).toBe(a.hub.headId));
    await eventually(() => expect(late?.hub.headId).toBe(a.hub.headId));
    expect(b.hub.state).toEqual(expected);
    expect(late?.hub.state).toEqual(expected);
    expect(attached).toBeGreaterThan(20);
    expect(resumes).toBeGreaterThan(3);
    // A client resumed late may still be reading its replay when B's head is there.
    for (const client of live.keys()) {
      await eventually(() => expect(client.lastId).toBe(a.hub.headId));
      expect(client.state).toEqual(expected);
    }
    // A new instance after all of it folds from the newest checkpoint.
    const c = await start(options);
    expect(c.hub.state).toEqual(expected);
    expect(c.hub.headId).toBe(a.hub.headId);
    expect(await admin.hget('{state}:checkpoints', 'default')).not.toBeNull();
  });

  it('setState from two instances at once: both fold the same order and agree', async () => {
    const a = await start();
    const b = await start();
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      writes.push(a.hub.setState((s) => ({ ...s, label: `a${i}` })));
      writes.push(b.hub.setState((s) => ({ ...s, label: `b${i}` })));
      // Awaited too: else both heads can agree on the last setState before the last event is appended.
      writes.push(a.hub.publish('change', i));
    }
    await Promise.all(writes);
    await eventually(() => expect(b.hub.headId).toBe(a.hub.headId));
    await eventually(() => expect(a.hub.headId).toBe(b.hub.headId));
    expect(a.hub.state).toEqual(b.hub.state);
    expect(a.hub.state.seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(a.hub.snapshot().json).toBe(b.hub.snapshot().json);
  });

  it('a new instance starts from the newest checkpoint and the events after it', async () => {
    const a = await start({ history: 10, checkpointEvery: 4 });
    for (let n = 1; n <= 25; n++) await a.hub.publish('change', n);
    // The channel's stream holds only its last 10 events: the first 15 are known only through the checkpoint.
    expect(await admin.xlen('{state}:ch:default')).toBe(10);
    expect((await admin.hget('{state}:checkpoints', 'default'))?.split(' ')[0]).toBe(await lastIdAt(24));
    const b = await start({ history: 10, checkpointEvery: 4 });
    expect(b.hub.state.seen).toEqual(upTo(25));
    expect(b.hub.headId).toBe(a.hub.headId);

    async function lastIdAt(n: number): Promise<string | undefined> {
      const entries = await admin.xrange('{state}:events', '-', '+');
      return entries.find(([, fields]) => fields[3] === String(n))?.[0];
    }
  });

  it('an instance cut off while events it never read were trimmed resyncs from a checkpoint', async () => {
    // A global stream of 10 events: B, cut off for 37, finds a hole in it and catches up from the channel's stream.
    const options = { history: 10, checkpointEvery: 3, streamLength: 10 };
    const a = await start(options);
    const proxy = await startTcpProxy(Number(new URL(redis.url).port));
    hubs.push({ close: () => proxy.close() });
    const b = await start(options, `redis://127.0.0.1:${proxy.port}`);
    const gaps: string[] = [];
    const errors: string[] = [];
    b.bus.on('gap', (after) => gaps.push(after));
    b.bus.on('error', (_e, where) => errors.push(where));
    for (let n = 1; n <= 3; n++) await a.hub.publish('change', n);
    await eventually(() => expect(b.hub.headId).toBe(a.hub.headId));

    proxy.stall(); // B hears nothing while A goes on, past B's position in a 10-event stream
    for (let n = 4; n <= 40; n++) await a.hub.publish('change', n);
    proxy.cut();
    proxy.resume();
    await eventually(() => expect(b.hub.headId).toBe(a.hub.headId), 15_000);
    expect(gaps).toHaveLength(1);
    expect(errors).toContain('resync');
    expect(b.hub.state).toEqual(a.hub.state);
    expect(b.hub.state.seen).toEqual(upTo(40));
    // And it keeps folding after it.
    await a.hub.publish('change', 41);
    await eventually(() => expect(b.hub.state.seen).toEqual(upTo(41)));
  });

  it('keeps the newest checkpoint whatever order writes arrive in', async () => {
    const bus = new RedisBus({ redis: redis.url, name: 'state' });
    hubs.push(bus);
    await bus.ready;
    await bus.saveState('5-0', '"five"');
    await bus.saveState('10-0', '"ten"');
    await bus.saveState('9-99', '"nine"');
    await bus.saveState('10-0', '"ten again"');
    expect(await admin.hgetall('{state}:checkpoints')).toEqual({ default: '10-0 "ten"' });
    await bus.saveState('100-0', '"hundred"');
    expect(await admin.hget('{state}:checkpoints', 'default')).toBe('100-0 "hundred"');
  });

  it('refuses a checkpoint interval that would outrun the stream', () => {
    expect(() => new RedisBus({ history: 10, checkpointEvery: 10 })).toThrow(RangeError);
    expect(() => new RedisBus({ checkpointEvery: 0 })).toThrow(RangeError);
  });
});
