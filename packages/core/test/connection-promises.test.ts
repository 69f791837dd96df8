import { describe, expect, it } from 'vitest';
import { accessTable, type Bus, createHub, DIRECTORY, defineContract, MemoryBus, typed } from '../src/index.js';
import type { HubSink, WireFrame } from '../src/wire.js';
import { type Frame, gatedBus } from './fixtures.js';

// What a connection promises its transport, each checked where a Stryker
// mutant of connection.ts went unnoticed (issue 28).

const contract = defineContract({
  events: { tick: typed<number>(), note: typed<string>() },
  commands: {},
  state: typed<{ ticks: number }>(),
  reducers: { tick: (s, n) => ({ ticks: s.ticks + n }) },
});
const initial = { ticks: 0 };

function client() {
  const frames: Frame[] = [];
  const sse: string[] = [];
  const resets: string[] = [];
  const sink: HubSink = {
    snapshot: (s) => {
      frames.push(JSON.parse(s.ws) as Frame);
      sse.push(s.sse);
    },
    event: (e: WireFrame) => {
      frames.push({ ...(JSON.parse(e.ws) as Frame), id: e.id });
      sse.push(e.sse);
    },
    reset: (reason) => resets.push(reason),
  };
  return {
    sink,
    frames,
    sse,
    resets,
    of: (type: string, channel?: string) =>
      frames.filter((f) => f.type === type && (channel === undefined || f.channel === channel)),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/** A hub on a bus whose `since` waits for `release()`, with one event on channel a (`from`). */
async function gatedHub() {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const hub = createHub(contract, { state: initial, bus: gatedBus(gate) });
  const from = await hub.channel('a').publish('tick', 1);
  return { hub, from, release };
}

describe('a connection', () => {
  it('an empty event-name filter filters nothing', async () => {
    const hub = createHub(contract, { state: initial });
    const c = client();
    hub.connect({ channels: ['a'], events: new Set() }, c.sink);
    await hub.channel('a').publish('tick', 1);
    await hub.channel('a').publish('note', 'x');
    expect(c.of('event').map((f) => f.event)).toEqual(['tick', 'note']);
  });

  it('an event-name filter never hides directory changes', async () => {
    const hub = createHub(contract, { state: initial });
    const c = client();
    hub.connect({ channels: ['a', DIRECTORY], events: new Set(['note']) }, c.sink);
    await hub.channel('a').publish('tick', 1);
    await hub.channel('a').describe({ kind: 'esp32' });
    expect(c.of('event', 'a')).toEqual([]);
    expect(c.of('event', DIRECTORY)).toHaveLength(1);
  });

  it('lists its patterns as prefix*, and counts them against maxChannelsPerConnection', async () => {
    const hub = createHub(contract, { state: initial, maxChannelsPerConnection: 2 });
    const c = client();
    const connection = hub.connect({ channels: ['a', 'k*'] }, c.sink);
    expect(connection.channels).toEqual(['a', 'k*']);
    const result = await connection.add(['b']);
    expect(result.refused.map((r) => r.error.code)).toEqual(['too_many_channels']);
  });

  it('adding a channel it holds adds nothing and sends no second snapshot', async () => {
    const hub = createHub(contract, { state: initial });
    const c = client();
    const connection = hub.connect({ channels: ['a'] }, c.sink);
    expect(await connection.add(['a', 'b', 'b'])).toEqual({ added: ['b'], refused: [] });
    expect(c.of('snapshot').map((f) => f.channel)).toEqual(['a', 'b']);
  });

  it('a single stream (no channel list) cannot add channels: invalid_payload', async () => {
    const hub = createHub(contract, { state: initial });
    const connection = hub.connect({}, client().sink);
    await expect(connection.add(['a'])).rejects.toMatchObject({
      code: 'invalid_payload',
      message: expect.stringMatching(/names no channels/),
    });
  });

  it('removing from a closed connection resolves with nothing removed', async () => {
    const hub = createHub(contract, { state: initial });
    const connection = hub.connect({ channels: ['a'] }, client().sink);
    connection.close();
    expect(await connection.remove(['a'])).toEqual([]);
  });

  it("add()'s directory page applies when it adds ~directory, not once it is held", async () => {
    const hub = createHub(contract, { state: initial });
    await hub.channel('e1').describe({ kind: 'esp32' });
    await hub.channel('p1').describe({ kind: 'pico' });
    const c = client();
    const connection = hub.connect({ channels: ['a'] }, c.sink);
    await connection.add([DIRECTORY], { directory: { kind: 'esp32' } });
    await connection.add([DIRECTORY], { directory: { kind: 'pico' } });
    const pages = c.of('snapshot', DIRECTORY).map((f) => (f.data as { entries: { id: string }[] }).entries);
    expect(pages.map((entries) => entries.map((e) => e.id))).toEqual([['e1']]);
    // The page stays the esp32 one: a later change re-reads it with that query.
    connection.restart();
    const again = c.of('snapshot', DIRECTORY).at(-1)?.data as { entries: { id: string }[] };
    expect(again.entries.map((e) => e.id)).toEqual(['e1']);
  });

  it('a resume of ~directory is a fresh page: reset (history), then the page (the directory has no history to replay)', async () => {
    const hub = createHub(contract, { state: initial });
    const from = await hub.channel('a').publish('tick', 1);
    await hub.channel('b1').describe({ kind: 'esp32' });
    const c = client();
    hub.connect({ channels: [DIRECTORY], lastEventId: from }, c.sink);
    expect(c.frames.map((f) => [f.type, f.channel, f.reason])).toEqual([
      ['reset', DIRECTORY, 'history'],
      ['snapshot', DIRECTORY, undefined],
    ]);
  });

  it('restart(): a reset (slow) per channel, then a snapshot of each; the single stream gets only its snapshot', async () => {
    const hub = createHub(contract, { state: initial });
    await hub.channel('a').publish('tick', 2);
    const c = client();
    const connection = hub.connect({ channels: ['a', 'b'] }, c.sink);
    c.frames.length = 0;
    connection.restart();
    expect(c.frames.map((f) => [f.type, f.channel, f.reason])).toEqual([
      ['reset', 'a', 'slow'],
      ['reset', 'b', 'slow'],
      ['snapshot', 'a', undefined],
      ['snapshot', 'b', undefined],
    ]);
    expect(c.of('snapshot', 'a')[0]?.data).toEqual({ ticks: 2 });

    const single = client();
    const stream = hub.connect({}, single.sink);
    single.sse.length = 0;
    stream.restart();
    expect(single.sse).toHaveLength(1);
    expect(single.sse[0]).toMatch(/^id: \S*\nevent: snapshot\n/);
    expect(single.resets).toEqual([]);
  });

  it('restart() while a start waits: what was buffered is dropped, the fresh snapshots carry it', async () => {
    const { hub, from, release } = await gatedHub();
    const c = client();
    const connection = hub.connect({ channels: ['a'], lastEventId: from }, c.sink);
    await hub.channel('a').publish('tick', 5);
    connection.restart();
    release();
    await settle();
    // After the restart's snapshot (which holds the 5), the 5 is not written again.
    const lastSnapshot = c.frames.map((f) => f.type).lastIndexOf('snapshot');
    const afterSnapshot = c.frames.slice(lastSnapshot + 1);
    expect(c.of('snapshot', 'a').at(-1)?.data).toEqual({ ticks: 6 });
    expect(afterSnapshot.filter((f) => f.type === 'event')).toEqual([]);
  });

  it('a pattern skips, silently, a new channel the viewer may not see', async () => {
    const access = accessTable({ bob: { see: ['k-1'] } });
    const hub = createHub(contract, { state: initial, access });
    const c = client();
    hub.channel('k-0'); // there before the pattern: skipped too
    const connection = hub.connect({ channels: ['k*'], principal: 'bob' }, c.sink);
    hub.channel('k-2');
    hub.channel('k-1');
    await settle();
    expect(c.of('forbidden')).toEqual([]);
    expect(c.of('snapshot').map((f) => f.channel)).toEqual(['k-1']);
    expect(connection.channels).toEqual(['k-1', 'k*']);
  });

  it('a pattern adds the channels it matches only up to maxChannelsPerConnection (the pattern counts as one)', async () => {
    const hub = createHub(contract, { state: initial, maxChannelsPerConnection: 3 });
    for (const id of ['k-1', 'k-2', 'k-3', 'k-4', 'k-5']) hub.channel(id);
    const c = client();
    const connection = hub.connect({ channels: ['k*'] }, c.sink);
    await settle();
    expect(connection.channels).toHaveLength(3);
    expect(connection.channels).toContain('k*');
    expect(c.of('snapshot')).toHaveLength(2);
  });

  it("'*' alone is not a pattern of everything: refused, invalid_payload", async () => {
    const hub = createHub(contract, { state: initial });
    hub.channel('x');
    const connection = hub.connect({ channels: ['a'] }, client().sink);
    const result = await connection.add(['*']);
    expect(result.added).toEqual([]);
    expect(result.refused.map((r) => [r.channel, r.error.code])).toEqual([['*', 'invalid_payload']]);
    expect(connection.channels).toEqual(['a']);
  });

  it('removing a channel or pattern it does not hold removes nothing', async () => {
    const hub = createHub(contract, { state: initial });
    const connection = hub.connect({ channels: ['a', 'k*'] }, client().sink);
    // 'ka' is no pattern: it never takes the 'k*' held.
    expect(await connection.remove(['b', 'z*', '*', 'ka'])).toEqual([]);
    expect(connection.channels).toEqual(['a', 'k*']);
  });

  it('add() resolves once a start that waits for the bus is done', async () => {
    const { hub, from, release } = await gatedHub();
    const c = client();
    const connection = hub.connect({ channels: ['b'] }, c.sink);
    const added = connection.add([{ channel: 'a', since: from }]);
    let done = false;
    void added.then(() => {
      done = true;
    });
    await settle();
    expect(done).toBe(false);
    release();
    expect(await added).toEqual({ added: ['a'], refused: [] });
  });

  it('a bus whose since throws or rejects: the channel starts over (reset history, snapshot), the error is reported', async () => {
    for (const since of [
      () => {
        throw new Error('since failed');
      },
      () => Promise.reject(new Error('since failed')),
    ]) {
      const memory = new MemoryBus();
      const bus: Bus = {
        publish: (e, d, j, ch) => memory.publish(e, d, j, ch),
        subscribe: (l) => memory.subscribe(l),
        since,
        compareIds: (x, y) => memory.compareIds(x, y),
        get headId() {
          return memory.headId;
        },
        originId: memory.originId,
        close: () => memory.close(),
      };
      const hub = createHub(contract, { state: initial, bus });
      const errors: string[] = [];
      hub.on('error', (_error, where) => errors.push(where));
      const from = await hub.channel('a').publish('tick', 1);
      await hub.channel('a').publish('tick', 2);
      const c = client();
      hub.connect({ channels: ['a'], lastEventId: from }, c.sink);
      await settle();
      expect(c.frames.map((f) => [f.type, f.reason])).toEqual([
        ['reset', 'history'],
        ['snapshot', undefined],
      ]);
      expect(c.of('snapshot', 'a')[0]?.data).toEqual({ ticks: 3 });
      expect(errors).toEqual(['bus.since']);
    }
  });

  it('a resume over several channels replays their events in the order they were published', async () => {
    const hub = createHub(contract, { state: initial, history: 10 });
    const from = await hub.channel('a').publish('tick', 0);
    const ids = [
      await hub.channel('b').publish('tick', 1),
      await hub.channel('a').publish('tick', 2),
      await hub.channel('b').publish('tick', 3),
      await hub.channel('a').publish('tick', 4),
    ];
    const c = client();
    hub.connect({ channels: ['a', 'b'], lastEventId: from }, c.sink);
    expect(c.of('event').map((f) => f.data)).toEqual([1, 2, 3, 4]);
    // Newer than the position resumed from: each carries its id, so the next resume starts after it.
    expect(c.of('event').map((f) => f.id)).toEqual(ids);
  });

  it('directory changes while a start waits are not written again after the page that holds them', async () => {
    const { hub, from, release } = await gatedHub();
    const c = client();
    hub.connect({ channels: ['a', DIRECTORY], lastEventId: from }, c.sink);
    await hub.channel('b1').describe({ kind: 'esp32' });
    release();
    await settle();
    const page = c.of('snapshot', DIRECTORY)[0]?.data as { entries: { id: string }[] };
    expect(page.entries.map((e) => e.id)).toEqual(['b1']);
    expect(c.of('event', DIRECTORY)).toEqual([]);
  });

  it('a channel added later resumed from an older id catches up without ids and never moves the position back', async () => {
    const hub = createHub(contract, { state: initial, history: 10 });
    const old = await hub.channel('b').publish('tick', 1);
    await hub.channel('b').publish('tick', 2);
    const newest = await hub.channel('a').publish('tick', 3);
    const c = client();
    const connection = hub.connect({ channels: ['a'], lastEventId: newest }, c.sink);
    await connection.add([{ channel: 'b', since: old }]);
    const caughtUp = c.of('event', 'b');
    expect(caughtUp.map((f) => f.data)).toEqual([2]);
    // Older than the position the client holds: sent without an id, so a reconnect resumes from `newest`.
    expect(caughtUp.map((f) => f.id || null)).toEqual([null]);
    const next = await hub.channel('b').publish('tick', 4);
    expect(c.of('event', 'b').at(-1)).toMatchObject({ data: 4, id: next });
  });

  it('a replayed event whose id is the position (the head a snapshot was written at) comes without id', async () => {
    const hub = createHub(contract, { state: initial, history: 10 });
    const old = await hub.channel('b').publish('tick', 1);
    const head = await hub.channel('b').publish('tick', 2);
    const c = client();
    // The snapshot of a is at the head: b's second event, which the client does not hold yet.
    const connection = hub.connect({ channels: ['a'] }, c.sink);
    expect(c.of('snapshot', 'a')[0]?.id).toBe(head);
    await connection.add([{ channel: 'b', since: old }]);
    expect(c.of('event', 'b').map((f) => [f.data, f.id || null])).toEqual([[2, null]]);
  });

  it('a catch-up frame (no id) leaves the position as it was: a later older resume catches up without ids too', async () => {
    const hub = createHub(contract, { state: initial, history: 10 });
    const old = await hub.channel('b').publish('tick', 1);
    await hub.channel('b').publish('tick', 2);
    await hub.channel('c').publish('tick', 3);
    const newest = await hub.channel('a').publish('tick', 4);
    const c = client();
    const connection = hub.connect({ channels: ['a'], lastEventId: newest }, c.sink);
    await connection.add([{ channel: 'b', since: old }]);
    await connection.add([{ channel: 'c', since: old }]);
    expect(c.of('event').map((f) => [f.channel, f.data, f.id || null])).toEqual([
      ['b', 2, null],
      ['c', 3, null],
    ]);
  });

  it('a sink that closes the connection on a frame gets nothing after it', async () => {
    const hub = createHub(contract, { state: initial });
    const frames: string[] = [];
    let closeOnFrame = false;
    let connection: ReturnType<typeof hub.connect> | undefined;
    const sink: HubSink = {
      snapshot: () => frames.push('snapshot'),
      event: (e) => {
        frames.push((JSON.parse(e.ws) as Frame).channel ?? '');
        // A transport whose write failed closes the connection.
        if (closeOnFrame) connection?.close();
      },
      reset: () => frames.push('reset'),
    };
    connection = hub.connect({ channels: ['a'] }, sink);
    closeOnFrame = true;
    await connection.add(['b', 'c']);
    expect(frames).toEqual(['a', 'b']);
  });

  it('an event published from inside the sink while an operation writes reaches the client after it', async () => {
    const hub = createHub(contract, { state: initial });
    let published = false;
    const c = client();
    const sink: HubSink = {
      ...c.sink,
      event: (e) => {
        c.sink.event(e);
        // Folded at once on the in-memory bus: the connection is still writing its start, so it is buffered.
        if (!published) {
          published = true;
          void hub.channel('a').publish('tick', 7);
        }
      },
    };
    hub.connect({ channels: ['a'] }, sink);
    await settle();
    expect(c.frames.map((f) => [f.type, f.data])).toEqual([
      ['snapshot', { ticks: 0 }],
      ['event', 7],
    ]);
  });

  it('an operation that throws (a state that cannot be encoded) is reported, and the connection goes on', async () => {
    const big = defineContract({
      events: { tick: typed<number>(), big: typed<null>() },
      commands: {},
      state: typed<{ ticks: number | bigint }>(),
      reducers: { tick: (s, n) => ({ ticks: Number(s.ticks) + n }), big: () => ({ ticks: 10n }) },
    });
    for (const waiting of [false, true]) {
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const hub = createHub(big, { state: { ticks: 0 }, ...(waiting ? { bus: gatedBus(gate) } : {}) });
      const errors: string[] = [];
      hub.on('error', (_error, where) => errors.push(where));
      const from = await hub.channel('a').publish('tick', 1);
      await hub.channel('x').publish('big', null);
      const c = client();
      // Resuming a makes the start wait for the bus when it is gated; the snapshot of x then throws.
      const connection = hub.connect({ channels: [{ channel: 'a', since: from }, 'x'] }, c.sink);
      release();
      await settle();
      expect(errors).toEqual(['connection']);
      await hub.channel('a').publish('tick', 2);
      expect(c.of('event', 'a').map((f) => f.data)).toEqual([2]);
      expect(connection.channels).toEqual(['a', 'x']);
    }
  });
});
