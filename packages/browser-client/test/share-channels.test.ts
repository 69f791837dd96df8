import { BoardcastError } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelDial, ChannelSink, ChannelTransport } from '../src/channel-link.js';
import { shareTransport } from '../src/share.js';
import { channelShareModel } from '../src/share-channels.js';
import { fleet } from './fleet.js';

/**
 * share.ts with the channel model (share-channels.ts) in Node, whose
 * BroadcastChannel delivers between instances of one process as a browser
 * does between tabs. Below it a stand-in channel transport at the dial
 * boundary hands out each connection's sink and set, so the test plays the
 * server (the real transports: tabs-channels.browser.test.ts).
 */
interface Dialed {
  readonly lastEventId: string | undefined;
  readonly sink: ChannelSink;
  readonly set: ChannelDial;
  aborted: boolean;
}

function fakeTransport() {
  const dials: Dialed[] = [];
  const transport: ChannelTransport = {
    name: 'sse',
    dial(lastEventId, sink, _side, set) {
      const dialed: Dialed = { lastEventId, sink: sink as ChannelSink, set: set as ChannelDial, aborted: false };
      dials.push(dialed);
      return () => {
        dialed.aborted = true;
      };
    },
    command: async () => 'ok',
    stop: () => undefined,
  };
  return { transport, dials };
}

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

const until = async (check: () => boolean, what: string) => {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

function tab(identity: string) {
  const fake = fakeTransport();
  const shared = shareTransport(fake.transport, fleet, identity, { share: true }, channelShareModel(fleet, undefined));
  stops.push(() => shared.stop(new BoardcastError('closed', 'done')));
  const client = recorder();
  const dial = (set: ChannelDial, lastEventId?: string) =>
    (shared.dial as (...a: unknown[]) => () => void)(lastEventId, client.sink, false, set);
  return { ...fake, shared, client, dial };
}

describe('tab sharing with channels (share-channels.ts)', () => {
  it('one connection carries the union; a channel it holds comes from the mirror, one it lacks widens it; refusals and since stay with their tab', async () => {
    const identity = `test-${Math.random()}`;
    const a = tab(identity);
    a.dial(want(['a']));
    await until(() => a.dials.length === 1, 'the leader dials');
    expect(a.dials[0]?.set).toMatchObject({ resume: [], fresh: ['a'] });
    const first = a.dials[0]?.sink as ChannelSink;
    first.open();
    first.channelSnapshot('a', state(1), 'e-1');
    first.channelEvent('a', 'add', 2, 'e-2');

    // B asks for a (held: from the mirror, no new connection) and b (not held: the union widens).
    const b = tab(identity);
    b.dial(want(['a', 'b']), undefined);
    await until(() => b.client.seen.includes('snapshot a n=2 e-2'), 'a from the leader mirror');
    await until(() => a.dials.length === 2, 'the leader widens the union');
    expect(a.dials[0]?.aborted).toBe(true);
    // Resumed from where the old link stopped; a (snapshot held) resumes, b is fresh.
    expect(a.dials[1]).toMatchObject({ lastEventId: 'e-2', set: { resume: ['a'], fresh: ['b'] } });
    expect(b.dials).toHaveLength(0);
    const second = a.dials[1]?.sink as ChannelSink;
    second.open();
    second.channelSnapshot('b', state(10), 'e-2');
    second.channelEvent('a', 'add', 3, 'e-3');
    second.channelEvent('b', 'add', 11, 'e-4');
    // A refusal goes only to the tab that asked for the channel.
    second.forbidden('b', new BoardcastError('forbidden', 'not yours'));
    await until(() => b.client.seen.includes('forbidden b forbidden'), 'the refusal in B');
    expect(a.client.seen.filter((s) => s.startsWith('forbidden'))).toEqual([]);
    expect(b.client.seen.filter((s) => s.startsWith('event'))).toEqual(['event a 3 e-3', 'event b 11 e-4']);

    // C asks for a with a `since`: the shared connection cannot replay it; reset, then the snapshot.
    const c = tab(identity);
    c.dial(want([], [{ channel: 'a', since: 'e-0' }]), undefined);
    await until(() => c.client.seen.includes('snapshot a n=3 e-4'), 'C has a');
    expect(c.client.seen.indexOf('reset a history')).toBeGreaterThanOrEqual(0);
    expect(c.client.seen.indexOf('reset a history')).toBeLessThan(c.client.seen.indexOf('snapshot a n=3 e-4'));
    // b was refused for the group: the union no longer asks for it, C never hears of it.
    expect(c.client.seen.some((s) => s.includes(' b '))).toBe(false);
    expect(a.dials).toHaveLength(2);
  });

  it('the next leader dials the whole union from its position, channels a pattern brought named so they resume', async () => {
    const identity = `test-${Math.random()}`;
    const a = tab(identity);
    a.dial(want(['a']));
    await until(() => a.dials.length === 1, 'the leader dials');
    const first = a.dials[0]?.sink as ChannelSink;
    first.open();
    first.channelSnapshot('a', state(1), 'e-1');
    const b = tab(identity);
    b.dial(want(['p:*']));
    await until(() => a.dials.length === 2, 'the union widens for the pattern');
    const second = a.dials[1]?.sink as ChannelSink;
    second.open();
    second.channelSnapshot('p:1', state(5), 'e-1');
    second.channelEvent('p:1', 'add', 6, 'e-2');
    await until(() => b.client.seen.includes('event p:1 6 e-2'), 'B has p:1');
    // Let a heartbeat name B the successor, then A's page goes away.
    await new Promise((resolve) => setTimeout(resolve, 300));
    a.shared.stop(new BoardcastError('closed', 'page closed'));
    await until(() => b.dials.length === 1, 'B dials');
    // A's set left with A; p:1 is named (resumed), the pattern stays fresh for channels that appear.
    expect(b.dials[0]).toMatchObject({ lastEventId: 'e-2', set: { resume: ['p:1'], fresh: ['p:*'] } });
    const third = b.dials[0]?.sink as ChannelSink;
    third.open();
    third.channelEvent('p:1', 'add', 7, 'e-3');
    await until(() => b.client.seen.includes('event p:1 7 e-3'), 'events from the new connection');
    expect(b.client.seen.filter((s) => s.startsWith('event p:1'))).toEqual(['event p:1 6 e-2', 'event p:1 7 e-3']);
  });

  it('a channel that left the union with its closed tab starts fresh when asked for again (its mirror went stale)', async () => {
    const identity = `test-${Math.random()}`;
    const a = tab(identity);
    a.dial(want(['a']));
    await until(() => a.dials.length === 1, 'the leader dials');
    const first = a.dials[0]?.sink as ChannelSink;
    first.open();
    first.channelSnapshot('a', state(1), 'e-1');
    const b = tab(identity);
    b.dial(want(['x']));
    await until(() => a.dials.length === 2, 'x joins the union');
    const second = a.dials[1]?.sink as ChannelSink;
    second.open();
    second.channelSnapshot('x', state(1), 'e-1');
    await until(() => b.client.seen.includes('snapshot x n=1 e-1'), 'B has x');
    // B's page closes for good: x leaves the union at the next dial (C's y widens it).
    b.shared.stop(new BoardcastError('closed', 'page closed'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const c = tab(identity);
    c.dial(want(['y']));
    await until(() => a.dials.length === 3, 'y joins the union');
    expect(a.dials[2]?.set).toMatchObject({ resume: ['a'], fresh: ['y'] });
    const third = a.dials[2]?.sink as ChannelSink;
    third.open();
    third.channelEvent('a', 'add', 2, 'e-5');
    // x was not followed since: asked for again, it is fresh (a resume from e-5 would skip its events).
    const d = tab(identity);
    d.dial(want(['x']));
    await until(() => a.dials.length === 4, 'x joins the union again');
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
