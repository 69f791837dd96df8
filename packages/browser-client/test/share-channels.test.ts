import { BoardcastError } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelDial, ChannelSink } from '../src/channel-link.js';
import { shareTransport } from '../src/share.js';
import { channelShareModel } from '../src/share-channels.js';
import { fleet } from './fleet.js';
import { cleanups, runCleanups, until } from './helpers.js';
import { fakeTransport } from './share-fakes.js';

// share.ts with the channel model (share-channels.ts) in Node, below a
// stand-in channel transport (test/share-fakes.ts): the test plays the server.

/** What a channel client (its session) sees through the shared transport. */
function recorder() {
  const seen: string[] = [];
  const sink = {
    open: () => seen.push('open'),
    snapshot: () => seen.push('single snapshot'),
    event: () => seen.push('single event'),
    reset: () => seen.push('single reset'),
    server: () => undefined,
    retry: () => undefined,
    error: (error: BoardcastError) => seen.push(`error ${error.code}`),
    drop: (error: BoardcastError) => seen.push(`drop ${error.code}`),
    channelSnapshot: (channel: string, state: { n: number }, id: string | null) =>
      seen.push(`snapshot ${channel} n=${state.n} ${id}`),
    channelEvent: (channel: string, _name: string, data: unknown, id: string | null) =>
      seen.push(`event ${channel} ${data} ${id}`),
    channelReset: (channel: string, reason: string) => seen.push(`reset ${channel} ${reason}`),
    forbidden: (channel: string, error: BoardcastError) => seen.push(`forbidden ${channel} ${error.code}`),
    started: (channels: readonly string[]) => seen.push(`started ${channels.join()}`),
  } as ChannelSink;
  return { seen, sink };
}

const want = (fresh: string[], since: { channel: string; since: string }[] = []): ChannelDial => ({
  resume: [],
  fresh,
  since,
});
const state = (n: number) => ({ sum: n, n, on: false });

afterEach(runCleanups);

/** A tab whose client dials through share.ts over its own stand-in transport; stopped after the test. */
function tab(identity: string) {
  const fake = fakeTransport<ChannelSink>();
  const shared = shareTransport(fake.transport, fleet, identity, { share: true }, channelShareModel(fleet, undefined));
  cleanups.push(() => shared.stop(new BoardcastError('closed', 'done')));
  const client = recorder();
  const dial = (set: ChannelDial, lastEventId?: string) =>
    (shared.dial as (...a: unknown[]) => () => void)(lastEventId, client.sink, false, set);
  return { ...fake, shared, client, dial };
}

/**
 * Tab A leads with channel `a` (its snapshot at n=1, e-1); tab B asks for
 * `channel`, which A's connection lacks: A dials the wider union, and
 * `second` is that connection, open.
 */
async function joinedBy(identity: string, channel: string) {
  const a = tab(identity);
  a.dial(want(['a']));
  const first = await a.opened(1, 'the leader dials');
  first.channelSnapshot('a', state(1), 'e-1');
  const b = tab(identity);
  b.dial(want([channel]));
  const second = await a.opened(2, `the union widens for ${channel}`);
  return { a, b, second };
}

describe('tab sharing with channels (share-channels.ts)', () => {
  it('one connection carries the union; a channel it holds comes from the mirror, one it lacks widens it; refusals and since stay with their tab', async () => {
    const identity = `test-${Math.random()}`;
    const a = tab(identity);
    a.dial(want(['a']));
    const first = await a.opened(1, 'the leader dials');
    expect(a.dials[0]?.set).toMatchObject({ resume: [], fresh: ['a'] });
    first.channelSnapshot('a', state(1), 'e-1');
    first.channelEvent('a', 'add', 2, 'e-2');

    // B asks for a (held: from the mirror, no new connection) and b (not held: the union widens).
    const b = tab(identity);
    b.dial(want(['a', 'b']), undefined);
    await until(() => b.client.seen.includes('snapshot a n=2 e-2'), 10_000, 'a from the leader mirror');
    const second = await a.opened(2, 'the leader widens the union');
    expect(a.dials[0]?.aborted).toBe(true);
    // Resumed from where the old link stopped; a (snapshot held) resumes, b is fresh.
    expect(a.dials[1]).toMatchObject({ lastEventId: 'e-2', set: { resume: ['a'], fresh: ['b'] } });
    expect(b.dials).toHaveLength(0);
    second.channelSnapshot('b', state(10), 'e-2');
    second.channelEvent('a', 'add', 3, 'e-3');
    second.channelEvent('b', 'add', 11, 'e-4');
    // A refusal goes only to the tab that asked for the channel.
    second.forbidden('b', new BoardcastError('forbidden', 'not yours'));
    await until(() => b.client.seen.includes('forbidden b forbidden'), 10_000, 'the refusal in B');
    expect(a.client.seen.filter((s) => s.startsWith('forbidden'))).toEqual([]);
    expect(b.client.seen.filter((s) => s.startsWith('event'))).toEqual(['event a 3 e-3', 'event b 11 e-4']);

    // C asks for a with a `since`: the shared connection cannot replay it; reset, then the snapshot.
    const c = tab(identity);
    c.dial(want([], [{ channel: 'a', since: 'e-0' }]), undefined);
    await until(() => c.client.seen.includes('snapshot a n=3 e-4'), 10_000, 'C has a');
    expect(c.client.seen.indexOf('reset a history')).toBeGreaterThanOrEqual(0);
    expect(c.client.seen.indexOf('reset a history')).toBeLessThan(c.client.seen.indexOf('snapshot a n=3 e-4'));
    // b was refused for the group: the union no longer asks for it, C never hears of it.
    expect(c.client.seen.some((s) => s.includes(' b '))).toBe(false);
    expect(a.dials).toHaveLength(2);
  });

  it('the next leader dials the whole union from its position, channels a pattern brought named so they resume', async () => {
    const identity = `test-${Math.random()}`;
    const { a, b, second } = await joinedBy(identity, 'p:*');
    second.channelSnapshot('p:1', state(5), 'e-1');
    second.channelEvent('p:1', 'add', 6, 'e-2');
    await until(() => b.client.seen.includes('event p:1 6 e-2'), 10_000, 'B has p:1');
    // Let a heartbeat name B the successor, then A's page goes away.
    await new Promise((resolve) => setTimeout(resolve, 300));
    a.shared.stop(new BoardcastError('closed', 'page closed'));
    const third = await b.opened(1, 'B dials');
    // A's set left with A; p:1 is named (resumed), the pattern stays fresh for channels that appear.
    expect(b.dials[0]).toMatchObject({ lastEventId: 'e-2', set: { resume: ['p:1'], fresh: ['p:*'] } });
    third.channelEvent('p:1', 'add', 7, 'e-3');
    await until(() => b.client.seen.includes('event p:1 7 e-3'), 10_000, 'events from the new connection');
    expect(b.client.seen.filter((s) => s.startsWith('event p:1'))).toEqual(['event p:1 6 e-2', 'event p:1 7 e-3']);
  });

  it('a channel that left the union with its closed tab starts fresh when asked for again (its mirror went stale)', async () => {
    const identity = `test-${Math.random()}`;
    const { a, b, second } = await joinedBy(identity, 'x');
    second.channelSnapshot('x', state(1), 'e-1');
    await until(() => b.client.seen.includes('snapshot x n=1 e-1'), 10_000, 'B has x');
    // B's page closes for good: x leaves the union at the next dial (C's y widens it).
    b.shared.stop(new BoardcastError('closed', 'page closed'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const c = tab(identity);
    c.dial(want(['y']));
    const third = await a.opened(3, 'y joins the union');
    expect(a.dials[2]?.set).toMatchObject({ resume: ['a'], fresh: ['y'] });
    third.channelEvent('a', 'add', 2, 'e-5');
    // x was not followed since: asked for again, it is fresh (a resume from e-5 would skip its events).
    const d = tab(identity);
    d.dial(want(['x']));
    await until(() => a.dials.length === 4, 10_000, 'x joins the union again');
    expect(a.dials[3]?.set).toMatchObject({ resume: ['a'], fresh: expect.arrayContaining(['x', 'y']) });
    expect(d.client.seen.some((s) => s.startsWith('snapshot x'))).toBe(false);
  });
});

describe('the channel share model (share-channels.ts) alone', () => {
  it('a tab saying hello again after it started a channel gets that channel’s events, not a snapshot in their place', () => {
    // The follower's client dialled with x fresh and has since been handed x's snapshot and one
    // event; the leader changes, the follower says hello (since e-2) with the want of that dial,
    // and e-3 came while its hello was out. A snapshot for x would skip e-3 for its listeners.
    const model = channelShareModel(fleet, undefined);
    const dialled = want(['x']);
    const snapshot = ['channelSnapshot', ['x', state(1), 'e-1']] as const;
    for (const frame of [
      snapshot,
      ['channelEvent', ['x', 'add', 2, 'e-2']],
      ['channelEvent', ['x', 'add', 3, 'e-3']],
    ] as const)
      model.record([frame[0], [...frame[1]]]);
    // The tab's own client was handed x's snapshot (deliver asks accepts, then tells delivered).
    expect(model.accepts?.([snapshot[0], [...snapshot[1]]], dialled)).toBe(true);
    model.delivered?.([snapshot[0], [...snapshot[1]]], dialled);
    const hello = model.current ? model.current(dialled) : dialled;
    expect(hello).toMatchObject({ fresh: ['x'], started: ['x'] });
    const frames = model.catchUp('e-2', hello);
    expect(frames.map(([method, args]) => `${method} ${args[0]} ${args[2]}`)).toEqual(['channelEvent x 3']);
    // A tab that has not started x yet still gets it as a snapshot, its events before it recorded only.
    const fresh = model.catchUp('e-2', want(['x']));
    expect(frames).not.toEqual(fresh);
    expect(fresh.map(([method]) => method)).toEqual(['~channelEvent', 'channelSnapshot']);
  });
});
