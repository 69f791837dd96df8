import { BoardcastError, createHub } from '@boardcast/core';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBus } from '../src/index.js';
import { compareStreamIds, isStreamId } from '../src/stream-id.js';
import { contract, type Instance, initialState, instance, recorder } from './fixtures.js';
import { eventually, type RedisProcess, redisServerPath, startRedis } from './redis-server.js';

describe('stream ids', () => {
  it('accepts only canonical Redis stream ids', () => {
    for (const ok of ['0-0', '1718000000000-0', '1-18446744073709551615']) expect(isStreamId(ok)).toBe(true);
    for (const bad of ['', '1', '01-0', '1-01', '-1-0', '1-0-0', 'abc', '1 -0', 'x-1', '123456789012345678901-0']) {
      expect(isStreamId(bad)).toBe(false);
    }
  });

  it('orders ids numerically, not as strings', () => {
    expect(compareStreamIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareStreamIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareStreamIds('10-10', '10-10')).toBe(0);
    expect(compareStreamIds('11-0', '10-99')).toBeGreaterThan(0);
  });
});

describe('RedisBus options', () => {
  it('rejects bad options with a clear error before connecting', () => {
    expect(() => new RedisBus({ history: 0 })).toThrow(RangeError);
    expect(() => new RedisBus({ maxPendingPublishes: 0 })).toThrow(RangeError);
    expect(() => new RedisBus({ readBatch: 1.5 })).toThrow(RangeError);
    expect(() => new RedisBus({ catchUpTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => new RedisBus({ instanceId: 'has space' })).toThrow(TypeError);
    expect(() => new RedisBus({ name: '' })).toThrow(TypeError);
  });
});

describe.skipIf(!redisServerPath)('RedisBus on a real redis-server', () => {
  let redis: RedisProcess;
  let admin: Redis;
  const open: Instance[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  afterEach(async () => {
    for (const i of open.splice(0)) await i.hub.close();
    await admin.flushall();
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  async function two(options: Parameters<typeof instance>[1] = {}) {
    const a = await instance(redis.url, options);
    const b = await instance(redis.url, options);
    open.push(a, b);
    return [a, b] as const;
  }

  it('delivers every publish to both instances with the same ids in one order', async () => {
    const [a, b] = await two();
    const seenA: string[] = [];
    const seenB: string[] = [];
    a.hub.subscribe((e) => seenA.push(`${e.id} ${e.event} ${e.json}`));
    b.hub.subscribe((e) => seenB.push(`${e.id} ${e.event} ${e.json}`));
    // Interleaved publishes from both instances, not awaited one by one.
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).hub.publish('tick', i)));
    await eventually(() => expect(seenB).toHaveLength(40));
    await eventually(() => expect(seenA).toHaveLength(40));
    expect(seenA).toEqual(seenB);
    // Ids are the stream ids, strictly increasing, and the ones publish returned.
    const delivered = seenA.map((line) => line.split(' ')[0] as string);
    for (let i = 1; i < delivered.length; i++) {
      expect(compareStreamIds(delivered[i - 1] as string, delivered[i] as string)).toBeLessThan(0);
    }
    expect([...delivered].sort(compareStreamIds)).toEqual([...ids].sort(compareStreamIds));
    expect(await admin.xlen('{test}:events')).toBe(40);
  });

  it('resolves publish only after the local hub has the event, so the snapshot reflects it', async () => {
    const [a] = await two();
    const id = await a.hub.publish('led', { on: true });
    expect(isStreamId(id)).toBe(true);
    expect(a.hub.headId).toBe(id);
    expect(a.hub.snapshot().headId).toBe(id);
    expect(a.bus.headId).toBe(id);
  });

  it('replays exactly what a client missed when it moves to the other instance', async () => {
    const [a, b] = await two();
    const onA = recorder();
    const detach = a.hub.attach({}, onA.sink);
    await a.hub.publish('tick', 1);
    await b.hub.publish('tick', 2);
    await eventually(() => expect(onA.ids).toHaveLength(2));
    detach();
    const lastId = onA.ids.at(-1) as string;
    const missed = [await a.hub.publish('tick', 3), await b.hub.publish('tick', 4)];

    const onB = recorder();
    b.hub.attach({ lastEventId: lastId }, onB.sink);
    await eventually(() => expect(onB.ids).toEqual(missed));
    await b.hub.publish('tick', 5);
    await eventually(() => expect(onB.ids).toHaveLength(3));
    expect(onB.log.map((l) => l.split('@')[0])).toEqual(['tick:3', 'tick:4', 'tick:5']);
  });

  it('neither loses nor duplicates events when a client moves while events keep flowing', async () => {
    const [a, b] = await two();
    let stop = false;
    let n = 0;
    const publishing = (async () => {
      while (!stop) await a.hub.publish('tick', ++n);
    })();
    const onA = recorder();
    const detach = a.hub.attach({}, onA.sink);
    await eventually(() => expect(onA.ids.length).toBeGreaterThan(20));
    detach();
    const lastId = onA.ids.at(-1) as string;
    const seenOnA = onA.log.filter((l) => l.startsWith('tick:')).map((l) => Number(l.split(/[:@]/)[1]));
    const onB = recorder();
    b.hub.attach({ lastEventId: lastId }, onB.sink);
    await eventually(() => expect(onB.ids.length).toBeGreaterThan(20));
    stop = true;
    await publishing;
    await eventually(() => expect(onB.ids.at(-1)).toBe(a.hub.headId));
    const seenOnB = onB.log.map((l) => Number(l.split(/[:@]/)[1]));
    expect(onB.log.some((l) => l.startsWith('reset') || l.startsWith('snapshot'))).toBe(false);
    // A then B together: 1..n exactly once, in order.
    expect([...seenOnA, ...seenOnB]).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  });

  it('serves a client that comes from an instance ahead of this one without duplicates', async () => {
    // B reads one entry per round trip; 2,000 entries appended in one
    // transaction leave it far behind A when the client arrives.
    const a = await instance(redis.url, { history: 5000, maxPendingPublishes: 5000 });
    // B waits for itself to reach the client's id (catchUpTimeoutMs) for as long as this takes on a
    // loaded machine: past the 5 s default it answers a gap (reset + snapshot), another case than this one.
    const b = await instance(redis.url, { history: 5000, readBatch: 1, catchUpTimeoutMs: 120_000 });
    open.push(a, b);
    const ids = await Promise.all(Array.from({ length: 2000 }, (_, i) => a.bus.publish('tick', i + 1, String(i + 1))));
    await eventually(() => expect(a.hub.headId).toBe(ids[1999]));
    const lastId = ids[1989] as string;
    const behind = b.hub.headId === undefined || compareStreamIds(b.hub.headId, lastId) < 0;
    const onB = recorder();
    b.hub.attach({ lastEventId: lastId }, onB.sink);
    await eventually(() => expect(onB.ids).toHaveLength(10), 100_000);
    await b.hub.publish('tick', 2001);
    await eventually(() => expect(onB.ids).toHaveLength(11));
    expect(onB.ids.slice(0, 10)).toEqual(ids.slice(1990));
    expect(onB.log.some((l) => l.startsWith('reset'))).toBe(false);
    // The case this test is about did happen (B had not read lastId yet).
    expect(behind).toBe(true);
  }, 120_000);

  it('answers a gap for malformed, unknown and trimmed ids, and not for the newest trimmed one', async () => {
    const [a, b] = await two({ history: 3, streamLength: 3 });
    const ids: string[] = [];
    for (let i = 1; i <= 6; i++) ids.push(await a.hub.publish('tick', i));
    await eventually(() => expect(b.hub.headId).toBe(ids[5]));
    expect(await admin.xlen('{test}:events')).toBe(3);

    expect(await b.bus.since('not-an-id')).toEqual({ kind: 'gap' });
    expect(await b.bus.since('1-0')).toEqual({ kind: 'gap' }); // well-formed, never in this stream
    expect(await b.bus.since(ids[1] as string)).toEqual({ kind: 'gap' }); // 3..6 are not all kept
    // ids[2] was trimmed, but 4, 5 and 6 are all still there: no reset needed.
    const kept = await b.bus.since(ids[2] as string);
    expect(kept.kind === 'events' && kept.events.map((e) => e.json)).toEqual(['4', '5', '6']);
    const none = await b.bus.since(ids[5] as string);
    expect(none).toEqual({ kind: 'events', events: [] });

    // Through the hub, a trimmed id is a reset and a fresh snapshot at the head.
    const client = recorder();
    b.hub.attach({ lastEventId: ids[0] }, client.sink);
    await eventually(() => expect(client.log).toHaveLength(2));
    expect(client.log).toEqual(['reset:history', `snapshot:${JSON.stringify(initialState)}@${ids[5]}`]);
  });

  it('hub.close closes the bus: publish then fails with closed and nothing leaks', async () => {
    const bus = new RedisBus({ redis: redis.url, name: 'test' });
    const hub = createHub(contract, { state: initialState, bus });
    await bus.ready;
    await hub.close();
    await expect(bus.publish('tick', 1, '1')).rejects.toMatchObject({ code: 'closed' });
    expect(bus.status).toBe('degraded');
    expect(await bus.since('1-0')).toEqual({ kind: 'gap' });
  });

  it('keeps a foreign entry written to the stream from crashing anyone', async () => {
    const [a, b] = await two();
    const errors: string[] = [];
    b.bus.on('error', (_e, where) => errors.push(where));
    const client = recorder();
    b.hub.attach({}, client.sink);
    const foreign = await admin.xadd('{test}:events', '*', 'foo', 'bar');
    const id = await a.hub.publish('tick', 7);
    await eventually(() => expect(b.hub.headId).toBe(id));
    expect(errors).toEqual(['decode']);
    // The client got the snapshot and the real event, nothing of the foreign entry.
    expect(client.log).toEqual([`snapshot:${JSON.stringify(initialState)}@0-0`, `tick:7@${id}`]);
    expect(client.log.join()).not.toContain(String(foreign));
    await expect(a.hub.publish('nope' as 'tick', 1)).rejects.toBeInstanceOf(BoardcastError);
  });
});
