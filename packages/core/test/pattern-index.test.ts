import { describe, expect, it } from 'vitest';
import { accessTable, createHub } from '../src/index.js';
import { frameSink, tickContract } from './fixtures.js';

// The hub indexes `prefix*` patterns by prefix and by prefix length, so that
// a channel that appears later finds its patterns without a scan. Dropping a
// pattern must leave every other connection's patterns (same prefix, or
// another prefix of the same length) matching; and a viewer's subscriptions
// are counted per principal, down as well as up.

const snapshotsOf = (frames: ReturnType<typeof frameSink>['frames'], channel: string) =>
  frames.filter((f) => f.type === 'snapshot' && f.channel === channel).length;

describe('pattern subscriptions, indexed', () => {
  it('one connection dropping a pattern leaves the same pattern of another, and another prefix of that length, matching', async () => {
    const hub = createHub(tickContract, { state: { ticks: 0 } });
    const a = frameSink();
    const b = frameSink();
    const c = frameSink();
    const connA = hub.connect({ channels: ['room*'] }, a.sink);
    const connB = hub.connect({ channels: ['room*'] }, b.sink);
    hub.connect({ channels: ['roof*'] }, c.sink);
    await new Promise((resolve) => setTimeout(resolve, 0));
    await connA.remove(['room*']);

    await hub.channel('room1').publish('tick', 1);
    await hub.channel('roof1').publish('tick', 1);
    expect(snapshotsOf(a.frames, 'room1')).toBe(0);
    expect(snapshotsOf(b.frames, 'room1')).toBe(1);
    expect(snapshotsOf(c.frames, 'roof1')).toBe(1);

    // room* is gone from every connection: roof*, of the same length, still matches.
    await connB.remove(['room*']);
    await hub.channel('room2').publish('tick', 1);
    await hub.channel('roof2').publish('tick', 1);
    expect(snapshotsOf(b.frames, 'room2')).toBe(0);
    expect(snapshotsOf(c.frames, 'roof2')).toBe(1);
    await hub.close();
  });

  it('the last pattern of a length gone, a pattern of that length added again matches again', async () => {
    const hub = createHub(tickContract, { state: { ticks: 0 } });
    const a = frameSink();
    const conn = hub.connect({ channels: ['room*'] }, a.sink);
    await new Promise((resolve) => setTimeout(resolve, 0));
    await conn.remove(['room*']);
    await hub.channel('room1').publish('tick', 1);
    expect(snapshotsOf(a.frames, 'room1')).toBe(0);
    await conn.add(['roof*']);
    await hub.channel('roof1').publish('tick', 1);
    expect(snapshotsOf(a.frames, 'roof1')).toBe(1);
    await hub.close();
  });

  it("a viewer's subscriptions count down when dropped: at the limit, dropping one makes room for one", async () => {
    const hub = createHub(tickContract, {
      state: { ticks: 0 },
      access: accessTable({ bob: { see: ['*'] }, alice: { see: ['*'] } }),
      maxSubscriptionsPerPrincipal: 2,
    });
    const bob = frameSink();
    const conn = hub.connect({ channels: [], principal: 'bob' }, bob.sink);
    expect((await conn.add(['one', 'two*'])).refused).toEqual([]);
    const full = await conn.add(['three']);
    expect(full.refused?.map((r) => r.error.code)).toEqual(['too_many_channels']);
    expect(await conn.remove(['two*'])).toEqual(['two*']);
    expect((await conn.add(['three'])).refused).toEqual([]);
    expect(await conn.remove(['one'])).toEqual(['one']);
    expect((await conn.add(['four*'])).refused).toEqual([]);
    expect((await conn.add(['five'])).refused?.map((r) => r.error.code)).toEqual(['too_many_channels']);
    // Another viewer's count is its own.
    const other = hub.connect({ channels: [], principal: 'alice' }, frameSink().sink);
    expect((await other.add(['one', 'two'])).refused).toEqual([]);
    await hub.close();
  });
});
