import { type BusStatus, createHub } from '@boardcast/core';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBus } from '../src/index.js';
import { contract, type Instance, initialState, instance, recorder } from './fixtures.js';
import { eventually, type RedisProcess, redisServerPath, startRedis } from './redis-server.js';

function statusLog(i: Instance): BusStatus[] {
  const log: BusStatus[] = [];
  i.bus.on('status', (s) => log.push(s));
  return log;
}

const values = (log: string[]) => log.filter((l) => l.startsWith('tick:')).map((l) => Number(l.split(/[:@]/)[1]));

describe.skipIf(!redisServerPath)('when Redis goes away and comes back', () => {
  let redis: RedisProcess | undefined;
  const open: Instance[] = [];

  afterEach(async () => {
    for (const i of open.splice(0)) await i.hub.close();
    await redis?.stop();
    redis = undefined;
  });

  async function two(url: string, options: Parameters<typeof instance>[1] = {}) {
    const a = await instance(url, options);
    const b = await instance(url, options);
    open.push(a, b);
    return [a, b] as const;
  }

  it('keeps clients connected, buffers publishes, and loses nothing Redis kept (kill -9, restart)', async () => {
    redis = await startRedis({ persistent: true });
    const [a, b] = await two(redis.url);
    const statusA = statusLog(a);
    const statusB = statusLog(b);
    const onA = recorder();
    const onB = recorder();
    a.hub.attach({}, onA.sink);
    b.hub.attach({}, onB.sink);

    const before: string[] = [];
    for (let i = 1; i <= 10; i++) before.push(await (i % 2 ? a : b).hub.publish('tick', i));
    await redis.kill();
    await eventually(() => expect([a.bus.status, b.bus.status]).toEqual(['degraded', 'degraded']));

    // Published while Redis is down: held (bounded) and written when it is back.
    const during = Array.from({ length: 10 }, (_, k) => (k % 2 ? a : b).hub.publish('tick', 11 + k));
    await eventually(() => expect(a.bus.pendingPublishes + b.bus.pendingPublishes).toBe(10));
    expect(a.hub.closed || b.hub.closed).toBe(false);

    await redis.start();
    const duringIds = await Promise.all(during);
    await eventually(() => expect([a.bus.status, b.bus.status]).toEqual(['ok', 'ok']));
    for (let i = 21; i <= 30; i++) await (i % 2 ? a : b).hub.publish('tick', i);

    await eventually(() => expect(onA.ids).toHaveLength(30));
    await eventually(() => expect(onB.ids).toHaveLength(30));
    // Same events, same ids, same order on both instances; each exactly once; no reset.
    expect(onA.log).toEqual(onB.log);
    expect(values(onA.log).sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(values(onA.log).slice(0, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(onA.log.filter((l) => l.startsWith('reset'))).toEqual([]);
    expect(onA.ids.slice(0, 10)).toEqual(before);
    expect(onA.ids).toEqual(expect.arrayContaining(duringIds));
    expect(statusA).toEqual(['degraded', 'ok']);
    expect(statusB).toEqual(['degraded', 'ok']);

    // History survived the restart: a client resuming from before the kill
    // on the other instance gets exactly what it missed.
    const resumed = recorder();
    b.hub.attach({ lastEventId: before[4] }, resumed.sink);
    await eventually(() => expect(resumed.ids).toEqual(onA.ids.slice(5)));
  });

  it('makes a degraded bus visible: hub busStatus, status frames to clients, commands refused with bus_unavailable', async () => {
    redis = await startRedis({ persistent: true });
    const a = await instance(redis.url);
    open.push(a);
    a.hub.handle('led', ({ board, state }) => ({ board, on: state === 'on', by: 'a' }));
    const hubStatus: BusStatus[] = [];
    a.hub.on('busStatus', (s) => hubStatus.push(s));
    const live = recorder();
    a.hub.attach({}, live.sink);
    const ok = '{"type":"status","data":{"bus":"ok"}}';
    const degraded = '{"type":"status","data":{"bus":"degraded"}}';
    // Every stream on a bus that reports its health starts with its status.
    expect(live.statuses).toEqual([ok]);
    expect(a.hub.busStatus).toBe('ok');
    expect((await a.hub.dispatch('led', { board: 'x', state: 'on' })).ok).toBe(true);

    await redis.kill();
    await eventually(() => expect(hubStatus).toEqual(['degraded']));
    expect(a.hub.busStatus).toBe('degraded');
    expect(live.statuses).toEqual([ok, degraded]);
    // Refused at once with the bus's code, not left to the 5 s command timeout.
    const refused = await a.hub.dispatch('led', { board: 'x', state: 'off' }, { transport: 'http' });
    expect(refused.ok ? undefined : refused.error.toJSON()).toMatchObject({ code: 'bus_unavailable' });
    expect(refused.ok ? 0 : refused.error.status).toBe(503);
    // A client connecting now is told before anything else, even before its snapshot.
    const late = recorder();
    a.hub.attach({}, late.sink);
    expect(late.statuses).toEqual([degraded]);
    expect(late.log).toEqual(['snapshot:{"led":false,"label":"initial"}@0-0']);

    await redis.start();
    await eventually(() => expect(hubStatus).toEqual(['degraded', 'ok']));
    expect(live.statuses).toEqual([ok, degraded, ok]);
    expect(late.statuses).toEqual([degraded, ok]);
    expect((await a.hub.dispatch('led', { board: 'x', state: 'on' })).ok).toBe(true);
    // Status frames are not events: no id, nothing in history, not on hub.subscribe.
    const replay = recorder();
    const id = await a.hub.publish('tick', 1);
    a.hub.attach({ lastEventId: id }, replay.sink);
    await eventually(() => expect(replay.statuses).toEqual([ok]));
    expect(replay.log).toEqual([]);
  });

  it('loses and duplicates nothing when Redis is killed while publishes are in flight', async () => {
    redis = await startRedis({ persistent: true });
    const [a, b] = await two(redis.url);
    const onB = recorder();
    b.hub.attach({}, onB.sink);
    let n = 0;
    let stop = false;
    const returned: string[] = [];
    // Several publishes always in flight, so the kill cuts some of them off.
    const loops = [0, 1, 2, 3].map(async () => {
      while (!stop) returned.push(await a.hub.publish('tick', ++n));
    });
    await eventually(() => expect(n).toBeGreaterThan(50));
    await redis.kill();
    await eventually(() => expect(a.bus.status).toBe('degraded'));
    const beforeRestart = returned.length;
    await redis.start();
    await eventually(() => expect(returned.length).toBeGreaterThan(beforeRestart + 20));
    stop = true;
    await Promise.all(loops);
    await eventually(() => expect(onB.ids).toHaveLength(n));
    expect(values(onB.log).sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect([...onB.ids].sort()).toEqual([...returned].sort());
    expect(onB.log.filter((l) => l.startsWith('reset'))).toEqual([]);
  });

  it('fails publishes beyond maxPendingPublishes with queue_full while Redis is down', async () => {
    redis = await startRedis({ persistent: true });
    const a = await instance(redis.url, { maxPendingPublishes: 3 });
    open.push(a);
    const seen: number[] = [];
    a.hub.subscribe((e) => seen.push(e.data as number));
    await redis.kill();
    await eventually(() => expect(a.bus.status).toBe('degraded'));
    const held = [1, 2, 3].map((n) => a.hub.publish('tick', n));
    await expect(a.hub.publish('tick', 4)).rejects.toMatchObject({ code: 'queue_full' });
    await redis.start();
    const ids = await Promise.all(held);
    expect(ids).toHaveLength(3);
    await eventually(() => expect(seen).toEqual([1, 2, 3]));
  });

  it('after a restart that lost the data: reports a gap, resets resuming clients, restores the state', async () => {
    redis = await startRedis(); // no persistence
    const [a, b] = await two(redis.url);
    const gaps: string[] = [];
    b.bus.on('gap', (after) => gaps.push(after));
    a.hub.setState({ led: true, label: 'kept by instances' });
    await eventually(() => expect(b.hub.state.label).toBe('kept by instances'));
    const old = await a.hub.publish('tick', 1);
    await eventually(() => expect(b.hub.headId).toBe(old));

    await redis.kill();
    await eventually(() => expect(b.bus.status).toBe('degraded'));
    await redis.start();
    await eventually(() => expect(b.bus.status).toBe('ok'));
    await eventually(() => expect(gaps).toEqual([old]));

    // The instances still share events after the loss.
    const fresh = await a.hub.publish('tick', 2);
    await eventually(() => expect(b.hub.headId).toBe(fresh));
    // A client resuming from an id Redis no longer has gets reset + snapshot.
    const client = recorder();
    b.hub.attach({ lastEventId: old }, client.sink);
    await eventually(() => expect(client.log).toHaveLength(2));
    expect(client.log).toEqual(['reset:history', `snapshot:{"led":true,"label":"kept by instances"}@${fresh}`]);
    // The lost checkpoint was written back, so a new instance starts from the instances' state.
    const check = new Redis(redis.url);
    try {
      await eventually(async () =>
        expect(JSON.parse((await check.hget('{test}:checkpoints', 'default'))?.replace(/^\S+ /, '') ?? 'null')).toEqual(
          {
            led: true,
            label: 'kept by instances',
          },
        ),
      );
    } finally {
      check.disconnect();
    }
    expect(initialState.label).toBe('initial');
  });

  it('notices a restart that lost the data at once, not when its quiet XREAD times out', async () => {
    redis = await startRedis(); // no persistence
    const a = await instance(redis.url);
    open.push(a);
    // B's connections carry a name, so CLIENT LIST shows what its stream reader is doing.
    const { port } = new URL(redis.url);
    const bus = new RedisBus({
      redis: { host: '127.0.0.1', port: Number(port), connectionName: 'bus-b' },
      name: 'test',
    });
    const b = { bus, hub: createHub(contract, { state: initialState, bus }) };
    open.push(b);
    await b.hub.ready;
    const old = await a.hub.publish('tick', 1);
    await eventually(() => expect(b.hub.headId).toBe(old));
    const check = new Redis(redis.url);
    check.on('error', () => undefined); // it sees the kill below too
    const readerBlocked = async () =>
      ((await check.client('LIST')) as string)
        .split('\n')
        .some((line) => line.includes(' name=bus-b ') && / flags=\w*b/.test(line) && line.includes(' cmd=xread '));
    // Taken when B reports the gap: is its reader still in the first XREAD after the restart (which, on
    // a quiet stream, returns only after its 5 s BLOCK)? The check used to wait for that XREAD's answer.
    const blockedAtGap: boolean[] = [];
    b.bus.on('gap', () => {
      readerBlocked().then(
        (blocked) => blockedAtGap.push(blocked),
        () => blockedAtGap.push(false),
      );
    });
    try {
      await redis.kill();
      await eventually(() => expect(b.bus.status).toBe('degraded'));
      await redis.start();
      await eventually(() => expect(blockedAtGap).toHaveLength(1), 20_000);
      expect(blockedAtGap).toEqual([true]);
    } finally {
      check.disconnect();
    }
  }, 40_000);
});
