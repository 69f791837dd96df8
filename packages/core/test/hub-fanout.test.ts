import { describe, expect, it } from 'vitest';
import { accessTable, createHub, DIRECTORY, type Hub } from '../src/index.js';
import type { HubSink, WireFrame } from '../src/wire.js';
import { laterAnswers, tickContract } from './fixtures.js';

// How the hub fans a new channel out to pattern subscribers, and a burst of
// directory changes out to viewers under an asynchronous access policy.

const contract = tickContract;

interface Frame {
  type: string;
  channel?: string;
  data?: unknown;
}

function client() {
  const frames: Frame[] = [];
  const sink: HubSink = {
    snapshot: (s) => frames.push(JSON.parse(s.ws) as Frame),
    event: (e: WireFrame) => frames.push(JSON.parse(e.ws) as Frame),
    reset: () => {},
  };
  const snapshots = (channel: string) => frames.filter((f) => f.type === 'snapshot' && f.channel === channel);
  return { sink, frames, snapshots };
}

const { later, settle } = laterAnswers();

/** A tick published on each channel in turn, then time for the snapshots it brings to arrive. */
async function tickOn(hub: Hub<typeof contract>, ...channels: string[]): Promise<void> {
  for (const channel of channels) await hub.channel(channel).publish('tick', 1);
  await settle();
}

describe('pattern subscriptions (a lookup per prefix length)', () => {
  it('a new channel reaches every connection whose prefix it starts with, of any length, and no other', async () => {
    const hub = createHub(contract, { state: { ticks: 0 } });
    const short = client();
    const long = client();
    const other = client();
    const both = client();
    hub.connect({ channels: ['k*'] }, short.sink);
    hub.connect({ channels: ['kitchen-1*'] }, long.sink);
    hub.connect({ channels: ['garage-*', 'kitchen-2*'] }, other.sink);
    // Overlapping patterns on one connection: told once, one snapshot.
    const overlap = hub.connect({ channels: ['k*', 'kitchen-*', 'kitchen-10*'] }, both.sink);
    await tickOn(hub, 'kitchen-10', 'k', 'garage-9');
    expect(short.snapshots('kitchen-10')).toHaveLength(1);
    expect(short.snapshots('k')).toHaveLength(1);
    expect(long.snapshots('kitchen-10')).toHaveLength(1);
    expect(long.snapshots('k')).toHaveLength(0); // shorter than the prefix
    expect(other.snapshots('kitchen-10')).toHaveLength(0);
    expect(other.snapshots('garage-9')).toHaveLength(1);
    expect(both.snapshots('kitchen-10')).toHaveLength(1);
    expect(both.snapshots('k')).toHaveLength(1);
    expect(overlap.channels).toContain('kitchen-10');
  });

  it('a dropped pattern no longer adds channels; others of the same length still do', async () => {
    const hub = createHub(contract, { state: { ticks: 0 } });
    const a = client();
    const b = client();
    const ca = hub.connect({ channels: ['aa*'] }, a.sink);
    hub.connect({ channels: ['bb*'] }, b.sink);
    expect(await ca.remove(['aa*'])).toEqual(['aa*']);
    await tickOn(hub, 'aa-1', 'bb-1');
    expect(a.snapshots('aa-1')).toHaveLength(0);
    expect(b.snapshots('bb-1')).toHaveLength(1);
    // The last connection with a prefix leaves: a later one of that length is found again.
    const c = client();
    hub.connect({ channels: ['aa*'] }, c.sink);
    await tickOn(hub, 'aa-2');
    expect(c.snapshots('aa-2')).toHaveLength(1);
  });

  it('a pattern two connections hold still adds channels to one when the other drops it, and another prefix of that length too', async () => {
    const hub = createHub(contract, { state: { ticks: 0 } });
    const a = client();
    const b = client();
    const c = client();
    const ca = hub.connect({ channels: ['room*'] }, a.sink);
    const cb = hub.connect({ channels: ['room*'] }, b.sink);
    hub.connect({ channels: ['roof*'] }, c.sink);
    await settle();
    await ca.remove(['room*']);
    await tickOn(hub, 'room1', 'roof1');
    expect(a.snapshots('room1')).toHaveLength(0);
    expect(b.snapshots('room1')).toHaveLength(1);
    expect(c.snapshots('roof1')).toHaveLength(1);
    // room* is gone from every connection: roof*, of the same length, still matches.
    await cb.remove(['room*']);
    await tickOn(hub, 'room2', 'roof2');
    expect(b.snapshots('room2')).toHaveLength(0);
    expect(c.snapshots('roof2')).toHaveLength(1);
    await hub.close();
  });

  it('the last pattern of a length gone, a pattern of that length added again matches again', async () => {
    const hub = createHub(contract, { state: { ticks: 0 } });
    const a = client();
    const conn = hub.connect({ channels: ['room*'] }, a.sink);
    await settle();
    await conn.remove(['room*']);
    await tickOn(hub, 'room1');
    expect(a.snapshots('room1')).toHaveLength(0);
    await conn.add(['roof*']);
    await tickOn(hub, 'roof1');
    expect(a.snapshots('roof1')).toHaveLength(1);
    await hub.close();
  });

  it("a viewer's subscriptions count down when dropped: at the limit, dropping one makes room for one", async () => {
    const hub = createHub(contract, {
      state: { ticks: 0 },
      access: accessTable({ bob: { see: ['*'] }, alice: { see: ['*'] } }),
      maxSubscriptionsPerPrincipal: 2,
    });
    const conn = hub.connect({ channels: [], principal: 'bob' }, client().sink);
    expect((await conn.add(['one', 'two*'])).refused).toEqual([]);
    expect((await conn.add(['three'])).refused.map((r) => r.error.code)).toEqual(['too_many_channels']);
    expect(await conn.remove(['two*'])).toEqual(['two*']);
    expect((await conn.add(['three'])).refused).toEqual([]);
    expect(await conn.remove(['one'])).toEqual(['one']);
    expect((await conn.add(['four*'])).refused).toEqual([]);
    expect((await conn.add(['five'])).refused.map((r) => r.error.code)).toEqual(['too_many_channels']);
    // Another viewer's count is its own.
    const other = hub.connect({ channels: [], principal: 'alice' }, client().sink);
    expect((await other.add(['one', 'two'])).refused).toEqual([]);
    await hub.close();
  });
});

describe('directory changes under an asynchronous access policy', () => {
  // A policy that answers some channels at once and looks others up (`slow-*`). The page a
  // viewer gets waits for every answer; a change to an entry it answers later makes the
  // viewer's connection read its page again.
  const mixed = () => {
    const counts = { slow: 0 };
    const canSee = (_principal: unknown, channel: string): boolean | Promise<boolean> => {
      if (!channel.startsWith('slow-')) return channel !== 'hidden';
      counts.slow++;
      return later(true);
    };
    return { counts, canSee };
  };

  it('a burst of changes costs each viewer one page, not one per change, and the page is current', async () => {
    const { canSee } = mixed();
    const hub = createHub(contract, { state: { ticks: 0 }, access: { canSee } });
    await hub.channel('pub-1').describe({ kind: 'esp32' });
    const viewer = client();
    const other = client();
    hub.connect({ channels: [DIRECTORY], principal: 'bob' }, viewer.sink);
    hub.connect({ channels: [DIRECTORY], principal: 'eve' }, other.sink);
    expect(viewer.snapshots(DIRECTORY)).toHaveLength(1);
    const changes: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) changes.push(hub.channel(`slow-${i}`).describe({ kind: 'esp32' }));
    await Promise.all(changes);
    await settle();
    for (const c of [viewer, other]) {
      const pages = c.snapshots(DIRECTORY);
      expect(pages).toHaveLength(2);
      expect(((pages[1] as Frame).data as { entries: { id: string }[] }).entries.map((e) => e.id)).toEqual(
        ['pub-1', ...Array.from({ length: 40 }, (_, i) => `slow-${i}`)].sort(),
      );
    }
    // A later change is read again (the batch is not a one-off), and an entry the policy answers at once arrives as an event.
    await hub.channel('slow-x').describe({ kind: 'esp32' });
    await settle();
    await hub.channel('pub-2').describe({ kind: 'esp32' });
    await settle();
    expect(viewer.snapshots(DIRECTORY)).toHaveLength(3);
    expect(viewer.frames.filter((f) => f.type === 'event' && f.channel === DIRECTORY).length).toBeGreaterThan(0);
  });

  it('access invalidated many times in a row: a re-check still waiting covers the later ones', async () => {
    const { counts, canSee } = mixed();
    const hub = createHub(contract, { state: { ticks: 0 }, access: { canSee } });
    const viewer = client();
    const connection = hub.connect({ channels: ['slow-1', 'slow-2'], principal: 'bob' }, viewer.sink);
    await settle();
    expect(connection.channels).toEqual(['slow-1', 'slow-2']);
    counts.slow = 0;
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) calls.push(hub.invalidateAccess('bob'));
    await Promise.all(calls);
    for (let i = 0; i < 10; i++) await settle();
    // The first re-check runs at once (2 lookups); the second waits behind it and covers the other 18.
    expect(counts.slow).toBe(4);
    expect(connection.channels).toEqual(['slow-1', 'slow-2']);
  });
});
