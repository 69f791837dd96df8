import { describe, expect, it } from 'vitest';
import {
  accessTable,
  type Bus,
  type BusListener,
  createHub,
  DIRECTORY,
  defineContract,
  MemoryBus,
  typed,
} from '../src/index.js';
import type { HubSink, WireFrame } from '../src/wire.js';
import { type Frame, gatedBus, laterAnswers } from './fixtures.js';

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

/**
 * `c`'s sink that, right after writing the first event frame `when` picks,
 * runs `act` once: a call made from inside a transport's write.
 */
function reentrantSink(c: ReturnType<typeof client>, when: (frame: Frame) => boolean, act: () => void): HubSink {
  let acted = false;
  return {
    ...c.sink,
    event: (e) => {
      c.sink.event(e);
      if (!acted && when(JSON.parse(e.ws) as Frame)) {
        acted = true;
        act();
      }
    },
  };
}

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
    const c = client();
    // Folded at once on the in-memory bus: the connection is still writing its start, so it is buffered.
    const sink = reentrantSink(
      c,
      () => true,
      () => void hub.channel('a').publish('tick', 7),
    );
    hub.connect({ channels: ['a'] }, sink);
    await settle();
    expect(c.frames.map((f) => [f.type, f.data])).toEqual([
      ['snapshot', { ticks: 0 }],
      ['event', 7],
    ]);
  });

  it('an event published from inside the sink as a waiting operation writes survives a remove or channel removal queued behind it', async () => {
    for (const dropX of ['remove', 'removed'] as const) {
      const { hub, from, release } = await gatedHub();
      const c = client();
      // b's snapshot is written when the add completes: k's event is buffered, the next operation then runs.
      const sink = reentrantSink(
        c,
        (frame) => frame.channel === 'b',
        () => void hub.channel('k').publish('tick', 9),
      );
      const connection = hub.connect({ channels: ['k', 'x'] }, sink);
      const added = connection.add(['b', { channel: 'c', since: from }]); // waits for the bus
      const dropped = dropX === 'remove' ? connection.remove(['x']) : hub.channel('x').remove();
      release();
      await added;
      await dropped;
      await settle();
      expect(c.of('event', 'k').map((f) => f.data)).toEqual([9]);
      expect(connection.channels).toEqual(dropX === 'remove' ? ['k', 'b', 'c'] : ['k', 'x', 'b', 'c']);
    }
  });

  it('a channel resumed by its own since, with no lastEventId, replays its missed events with their ids', async () => {
    const hub = createHub(contract, { state: initial, history: 10 });
    const from = await hub.channel('a').publish('tick', 1);
    const next = await hub.channel('a').publish('tick', 2);
    const c = client();
    hub.connect({ channels: [{ channel: 'a', since: from }] }, c.sink);
    expect(c.frames.map((f) => [f.type, f.data, f.id])).toEqual([['event', 2, next]]);
  });

  it('an add without a directory query keeps the one the connection was opened with', async () => {
    const hub = createHub(contract, { state: initial });
    await hub.channel('e1').describe({ kind: 'esp32' });
    await hub.channel('p1').describe({ kind: 'pico' });
    const c = client();
    const connection = hub.connect({ channels: ['a'], directory: { kind: 'esp32' } }, c.sink);
    await connection.add(['b']);
    await connection.add([DIRECTORY]);
    const page = c.of('snapshot', DIRECTORY)[0]?.data as { entries: { id: string }[] };
    expect(page.entries.map((e) => e.id)).toEqual(['e1']);
  });

  it('a sink may remove a channel from inside a write: the operation that wrote goes on', async () => {
    const hub = createHub(contract, { state: initial });
    const c = client();
    let connection: ReturnType<typeof hub.connect> | undefined;
    let restarting = false;
    // On the restart's first snapshot: the queue runs the removal at once, inside the write.
    const sink = reentrantSink(
      c,
      (frame) => restarting && frame.type === 'snapshot',
      () => void connection?.remove(['b']),
    );
    connection = hub.connect({ channels: ['a', 'b'] }, sink);
    restarting = true;
    expect(() => connection?.restart()).not.toThrow();
    expect(connection.channels).toEqual(['a']);
    await hub.channel('a').publish('tick', 1);
    expect(c.of('event', 'a').map((f) => f.data)).toEqual([1]);
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

describe('a connection re-checked', () => {
  /** A policy whose answers the test changes: `later` answers asynchronously. */
  function policy(seen: string[], later?: <T>(value: T) => Promise<T>) {
    const allowed = new Set(seen);
    return {
      allowed,
      access: {
        canSee: (_principal: unknown, channel: string) => (later ? later(allowed.has(channel)) : allowed.has(channel)),
      },
    };
  }

  it('an asynchronous policy: a refused channel gets forbidden and leaves; events buffered meanwhile reach only the channels kept', async () => {
    const { later, settle: answered } = laterAnswers();
    const { allowed, access } = policy(['a', 'b'], later);
    const hub = createHub(contract, { state: initial, access });
    const c = client();
    const connection = hub.connect({ channels: ['a', 'b'], principal: 'bob' }, c.sink);
    await answered();
    allowed.delete('b');
    await hub.invalidateAccess();
    // The re-check waits for the policy: these are buffered until it answers.
    await hub.channel('a').publish('tick', 1);
    await hub.channel('b').publish('tick', 2);
    await answered();
    expect(c.of('forbidden').map((f) => [f.channel, f.error?.code])).toEqual([['b', 'forbidden']]);
    expect(connection.channels).toEqual(['a']);
    expect(c.of('event', 'a').map((f) => f.data)).toEqual([1]);
    expect(c.of('event', 'b')).toEqual([]);
  });

  it('a re-check that changes nothing writes nothing, also at maxChannelsPerConnection (the bound is for channels it adds)', async () => {
    const { access } = policy(['a', 'b']);
    const hub = createHub(contract, { state: initial, access, maxChannelsPerConnection: 2 });
    const errors: string[] = [];
    hub.on('error', (_error, where) => errors.push(where));
    const c = client();
    const connection = hub.connect({ channels: ['a', 'b'], principal: 'bob' }, c.sink);
    const before = c.frames.length;
    await hub.invalidateAccess();
    // Nothing changed for it: no frame at all (no directory held, so no page either).
    expect(c.frames).toHaveLength(before);
    expect(errors).toEqual([]);
    expect(connection.channels).toEqual(['a', 'b']);
  });

  it('a connection without the directory never asks the policy about directory entries', async () => {
    const asked: string[] = [];
    const canSee = (_principal: unknown, channel: string) => {
      asked.push(channel);
      return true;
    };
    const hub = createHub(contract, { state: initial, access: { canSee } });
    await hub.channel('e1').describe({ kind: 'esp32' });
    asked.length = 0;
    const connection = hub.connect({ channels: ['a'], principal: 'bob' }, client().sink);
    connection.restart();
    await hub.invalidateAccess();
    await settle();
    // Its own channel at the start and at the re-check; the page it does not hold costs nothing.
    expect(asked).toEqual(['a', 'a']);
  });

  it('a policy that answers some channels at once and others later keeps every channel it still allows', async () => {
    const { later, settle: answered } = laterAnswers();
    const hub = createHub(contract, {
      state: initial,
      access: { canSee: (_p: unknown, channel: string) => (channel === 'b' ? later(true) : true) },
    });
    const c = client();
    const connection = hub.connect({ channels: ['a', 'b'], principal: 'bob' }, c.sink);
    await answered();
    await hub.invalidateAccess();
    await answered();
    expect(c.of('forbidden')).toEqual([]);
    expect(connection.channels).toEqual(['a', 'b']);
  });
});

describe('a single stream (no channel list)', () => {
  function singleClient(withEnd: boolean) {
    const c = client();
    const ended: string[] = [];
    const sink: HubSink = withEnd ? { ...c.sink, end: (error) => ended.push(error.code) } : c.sink;
    return { ...c, sink, ended };
  }

  it('a viewer that loses the default channel on a re-check: the stream is ended with the error, nothing reported', async () => {
    for (const withEnd of [true, false]) {
      let allowed = true;
      const hub = createHub(contract, { state: initial, access: { canSee: () => allowed } });
      const errors: string[] = [];
      hub.on('error', (_error, where) => errors.push(where));
      const c = singleClient(withEnd);
      hub.connect({ principal: 'bob' }, c.sink);
      expect(c.sse).toHaveLength(1); // its snapshot
      allowed = false;
      await hub.invalidateAccess();
      await hub.publish('tick', 1);
      expect(c.ended).toEqual(withEnd ? ['forbidden'] : []);
      expect(c.sse).toHaveLength(1);
      // A transport without `end` closes the stream its own way: no error for the missing method.
      expect(errors).toEqual([]);
    }
  });

  it('a viewer refused at the start, on a sink without end: nothing written, nothing reported', async () => {
    const hub = createHub(contract, { state: initial, access: { canSee: () => false } });
    const errors: string[] = [];
    hub.on('error', (_error, where) => errors.push(where));
    const c = singleClient(false);
    hub.connect({ principal: 'bob' }, c.sink);
    await settle();
    expect(c.sse).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('the default channel removed: its reset (removed), then the initial snapshot', async () => {
    const hub = createHub(contract, { state: initial });
    await hub.publish('tick', 3);
    const c = singleClient(true);
    hub.connect({}, c.sink);
    c.sse.length = 0;
    await hub.channel('default').remove();
    expect(c.resets).toEqual(['removed']);
    expect(c.sse).toHaveLength(1);
    expect(c.sse[0]).toMatch(/^id: \S*\nevent: snapshot\n/);
    expect(c.frames.at(-1)?.data).toEqual(initial);
  });
});

/**
 * A MemoryBus that delivers to the hub only when the test says so, as a
 * shared bus delivers another instance's events late: its `since` already
 * answers what the hub has not folded yet.
 */
function laggingBus() {
  const memory = new MemoryBus();
  let held: (() => void)[] | undefined;
  const bus: Bus = {
    publish: (e, d, j, ch) => memory.publish(e, d, j, ch),
    subscribe: (listener: BusListener) =>
      memory.subscribe((event) => {
        if (held) held.push(() => listener(event));
        else listener(event);
      }),
    since: (id, channel) => memory.since(id, channel),
    compareIds: (x, y) => memory.compareIds(x, y),
    get headId() {
      return memory.headId;
    },
    originId: memory.originId,
    close: () => memory.close(),
  };
  return {
    bus,
    hold: () => {
      held ??= [];
    },
    deliver: () => {
      const due = held ?? [];
      held = undefined;
      for (const f of due) f();
    },
  };
}

describe('a connection on a bus that delivers late', () => {
  it('resumes from an id the hub has not folded wait for the newest of them, whatever their order', async () => {
    const lag = laggingBus();
    const hub = createHub(contract, { state: initial, bus: lag.bus });
    const x = await hub.channel('a').publish('tick', 1);
    lag.hold();
    const y = await hub.channel('b').publish('tick', 2); // not folded here yet
    const clients = [
      [
        { channel: 'b', since: y },
        { channel: 'a', since: x },
      ],
      [
        { channel: 'a', since: x },
        { channel: 'b', since: y },
      ],
    ].map((resumes) => {
      const c = client();
      hub.connect({ channels: [...resumes, 'c'] }, c.sink);
      return c;
    });
    await settle();
    // A snapshot now would be older than y, which the client holds.
    for (const c of clients) expect(c.frames).toEqual([]);
    lag.deliver();
    await settle();
    for (const c of clients) expect(c.of('snapshot', 'c').map((f) => f.id)).toEqual([y]);
  });

  it('a replayed event the hub has not folded yet is left to arrive live: written once', async () => {
    const lag = laggingBus();
    const hub = createHub(contract, { state: initial, bus: lag.bus });
    const x = await hub.channel('a').publish('tick', 1);
    lag.hold();
    const z = await hub.channel('a').publish('tick', 2);
    const c = client();
    hub.connect({ channels: ['a'], lastEventId: x }, c.sink);
    await settle();
    expect(c.of('event', 'a')).toEqual([]);
    lag.deliver();
    await settle();
    expect(c.of('event', 'a').map((f) => [f.data, f.id])).toEqual([[2, z]]);
  });

  it('while a resume waits for the hub to fold its id, the live events up to that id are not written again; a held channel keeps its own', async () => {
    const lag = laggingBus();
    const hub = createHub(contract, { state: initial, bus: lag.bus });
    const c = client();
    const connection = hub.connect({ channels: ['k'] }, c.sink);
    lag.hold();
    await hub.channel('b').publish('tick', 1);
    const y = await hub.channel('b').publish('tick', 2);
    const k = await hub.channel('k').publish('tick', 3);
    const added = connection.add([{ channel: 'b', since: y }]);
    await settle();
    lag.deliver(); // b's two events and k's reach the hub while the add waits
    await added;
    await settle();
    expect(c.of('event', 'b')).toEqual([]);
    expect(c.of('event', 'k').map((f) => [f.data, f.id])).toEqual([[3, k]]);
  });
});
