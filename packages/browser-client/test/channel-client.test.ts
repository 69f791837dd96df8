import { BoardcastError, type Contract, defineContract, typed } from '@boardcast/core';
import { describe, expect, it } from 'vitest';
import { type ChannelClientOptions, createChannelClient } from '../src/channel-client.js';
import { channelStreamRequest, MAX_URL_LENGTH } from '../src/channel-frames.js';
import type { ChannelDial, ChannelSink, ChannelTransport, SinceRequest } from '../src/channel-link.js';
import { createDirectoryMirror } from '../src/directory-mirror.js';

const contract = defineContract({
  events: { add: typed<number>() },
  commands: {},
  state: typed<{ sum: number; n: number }>(),
  reducers: { add: (s, x) => ({ sum: s.sum + x, n: s.n + 1 }) },
});
type Spec = typeof contract extends Contract<infer S> ? S : never;

/**
 * A transport double at the client's lowest boundary: it records every
 * dial (id + set) and in-place change, and hands the test the sink of the
 * current connection. `inPlace` makes it behave like WS (set changes on the
 * open connection), otherwise like SSE (every change is a new connection).
 */
function fakeTransport(inPlace: boolean) {
  const dials: { lastEventId: string | undefined; set: ChannelDial }[] = [];
  const changes: (readonly (string | SinceRequest)[] | { unsubscribe: readonly string[] })[] = [];
  let sink: ChannelSink | undefined;
  let closed = 0;
  const transport: ChannelTransport = {
    name: inPlace ? 'ws' : 'sse',
    dial(lastEventId, s, _side, set) {
      dials.push({ lastEventId, set: set as ChannelDial });
      const mine = s as ChannelSink;
      sink = mine;
      return () => {
        closed++;
        if (sink === mine) sink = undefined;
      };
    },
    command: () => Promise.resolve(null),
    stop() {},
    ...(inPlace
      ? {
          subscribe: (requests: readonly (string | SinceRequest)[]) => {
            changes.push(requests);
            return true;
          },
          unsubscribe: (channels: readonly string[]) => {
            changes.push({ unsubscribe: channels });
            return true;
          },
        }
      : {}),
  };
  return {
    transport,
    dials,
    changes,
    get closed() {
      return closed;
    },
    get sink() {
      if (!sink) throw new Error('no connection');
      return sink;
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

/** A client of a {@link fakeTransport} with `options`, after its first dial, the connection open. */
async function openClient(inPlace: boolean, options: ChannelClientOptions<Spec>) {
  const fake = fakeTransport(inPlace);
  const client = createChannelClient<Spec>(contract, fake.transport, options);
  await tick();
  fake.sink.open();
  return { fake, client };
}

describe('channel client (fake transport)', () => {
  it('SSE: changes made in one task open one new stream, resuming held channels and asking fresh for the new one', async () => {
    const fake = fakeTransport(false);
    const client = createChannelClient<Spec>(contract, fake.transport, { channels: ['a'] });
    await tick();
    expect(fake.dials).toEqual([
      { lastEventId: undefined, set: { resume: [], fresh: ['a'], since: [], directory: undefined } },
    ]);
    fake.sink.open();
    fake.sink.channelSnapshot('a', { sum: 0, n: 0 }, '1-1');
    fake.sink.channelEvent('a', 'add', 2, '1-2');
    client.subscribe('b');
    client.subscribe(['c', 'a']);
    // Nothing of the old stream is folded once the switch is decided.
    await tick();
    expect(fake.dials).toHaveLength(2);
    expect(fake.closed).toBe(1);
    expect(fake.dials[1]).toEqual({
      lastEventId: '1-2',
      set: { resume: ['a'], fresh: ['b', 'c'], since: [], directory: undefined },
    });
    expect(client.channel('a').state).toEqual({ sum: 2, n: 1 });
    client.close();
  });

  it('WS: set changes go over the open connection; a reconnect asks again for a channel whose snapshot never came', async () => {
    const { fake, client } = await openClient(true, { channels: ['a'], reconnect: { initialDelayMs: 1 } });
    fake.sink.channelSnapshot('a', { sum: 0, n: 0 }, '1-5');
    client.subscribe(['b', { channel: 'c', since: '1-1', state: { sum: 7, n: 1 } }]);
    client.unsubscribe('a');
    expect(fake.changes).toEqual([['b', { channel: 'c', since: '1-1' }], { unsubscribe: ['a'] }]);
    expect(fake.dials).toHaveLength(1);
    expect(client.channel('c').state).toEqual({ sum: 7, n: 1 });
    fake.sink.drop(new BoardcastError('network_error', 'cut'));
    await new Promise((r) => setTimeout(r, 400));
    expect(fake.dials[1]).toEqual({
      lastEventId: '1-5',
      set: { resume: [], fresh: ['b'], since: [{ channel: 'c', since: '1-1' }], directory: undefined },
    });
    client.close();
  });

  it('a `since` channel asked again after a drop skips the events it already folded (none twice, none lost)', async () => {
    const fake = fakeTransport(false);
    const client = createChannelClient<Spec>(contract, fake.transport, {
      channels: [{ channel: 't', since: '1-1', state: { sum: 1, n: 1 } }],
      reconnect: { initialDelayMs: 1 },
    });
    const ids: (string | undefined)[] = [];
    client.channel('t').on('add', (_x, id) => ids.push(id));
    await tick();
    fake.sink.open();
    // Catch-up frames (older than the position the client will hold): no ids.
    fake.sink.channelEvent('t', 'add', 2, null);
    fake.sink.channelEvent('t', 'add', 3, null);
    fake.sink.drop(new BoardcastError('network_error', 'cut'));
    await new Promise((r) => setTimeout(r, 400));
    expect(fake.dials[1]?.set.since).toEqual([{ channel: 't', since: '1-1' }]);
    // The server sends the same two again, then the one that was missing.
    fake.sink.open();
    fake.sink.channelEvent('t', 'add', 2, null);
    fake.sink.channelEvent('t', 'add', 3, null);
    fake.sink.channelEvent('t', 'add', 4, null);
    expect(client.channel('t').state).toEqual({ sum: 10, n: 4 });
    expect(ids).toEqual([undefined, undefined, undefined]);
    client.close();
  });

  it('on a new connection, a `since` channel’s events older than the held id move no position until another channel’s frame', async () => {
    const { fake, client } = await openClient(false, { channels: ['a'] });
    fake.sink.channelSnapshot('a', { sum: 0, n: 0 }, '1-9');
    client.subscribe({ channel: 't', since: '1-2', state: { sum: 0, n: 0 } });
    await tick();
    // The new stream starts at '' on the server: t's old events come first, with their ids.
    fake.sink.open();
    fake.sink.channelEvent('t', 'add', 1, '1-3');
    expect(client.lastEventId).toBe('1-9');
    fake.sink.channelEvent('a', 'add', 1, '1-10');
    fake.sink.channelEvent('t', 'add', 1, '1-11');
    expect(client.lastEventId).toBe('1-11');
    client.close();
  });

  it('forbidden drops the channel from set and mirror, as a typed error, and it is not asked for again', async () => {
    const fake = fakeTransport(false);
    const client = createChannelClient<Spec>(contract, fake.transport, {
      channels: ['a', 'b'],
      reconnect: { initialDelayMs: 1 },
    });
    const errors: BoardcastError[] = [];
    client.on('forbidden', (_c, e) => errors.push(e));
    const ready = client.channel('b').whenReady();
    await tick();
    fake.sink.open();
    fake.sink.channelSnapshot('a', { sum: 0, n: 0 }, '1-1');
    fake.sink.channelSnapshot('b', { sum: 0, n: 0 }, '1-1');
    fake.sink.forbidden('b', new BoardcastError('forbidden', 'no'));
    await expect(ready).resolves.toEqual({ sum: 0, n: 0 });
    expect(errors.map((e) => e.code)).toEqual(['forbidden']);
    expect(client.channel('b').state).toBeUndefined();
    expect(client.channel('b').error).toBeInstanceOf(BoardcastError);
    // Frames of b still in flight are not folded.
    fake.sink.channelEvent('b', 'add', 1, '1-2');
    expect(client.channel('b').state).toBeUndefined();
    fake.sink.drop(new BoardcastError('network_error', 'cut'));
    await new Promise((r) => setTimeout(r, 400));
    expect(fake.dials[1]?.set).toEqual({ resume: ['a'], fresh: [], since: [], directory: undefined });
    client.subscribe('b');
    await tick();
    expect(fake.dials[2]?.set.fresh).toEqual(['b']);
    client.close();
  });

  it('a pattern holds the channels it matches, including later ones; dropping it empties their views', async () => {
    const { fake, client } = await openClient(true, { channels: ['k-*'] });
    fake.sink.channelSnapshot('k-1', { sum: 0, n: 0 }, '1-1');
    fake.sink.channelSnapshot('x-1', { sum: 0, n: 0 }, '1-1');
    expect(client.channel('k-1').subscribed).toBe(true);
    expect(client.channel('x-1').state).toBeUndefined();
    fake.sink.channelEvent('k-1', 'add', 5, '1-2');
    expect(client.channel('k-1').state).toEqual({ sum: 5, n: 1 });
    fake.sink.channelSnapshot('k-2', { sum: 0, n: 0 }, '1-3');
    // Access revoked for one channel the pattern matched: it stays out even though the pattern matches it.
    fake.sink.forbidden('k-2', new BoardcastError('forbidden', 'revoked'));
    fake.sink.channelEvent('k-2', 'add', 1, '1-4');
    expect(client.channel('k-2').state).toBeUndefined();
    expect(client.channel('k-2').subscribed).toBe(false);
    client.unsubscribe('k-*');
    expect(client.channel('k-1').state).toBeUndefined();
    client.close();
  });
});

describe('channel client: requests the server would refuse for their shape are refused locally', () => {
  it('a malformed id, a bad since and a set past 1000 get a typed forbidden and are never sent', async () => {
    const fake = fakeTransport(true);
    const client = createChannelClient<Spec>(contract, fake.transport, { channels: ['ok', 'not ok!', 'k-*', '*'] });
    const refusals: string[] = [];
    client.on('forbidden', (channel, error) => refusals.push(`${channel}:${error.code}`));
    await tick();
    expect(refusals).toEqual(['not ok!:invalid_payload', '*:invalid_payload']);
    expect(fake.dials[0]?.set).toEqual({ resume: [], fresh: ['ok', 'k-*'], since: [], directory: undefined });
    await expect(client.channel('not ok!').whenReady()).rejects.toMatchObject({ code: 'invalid_payload' });
    fake.sink.open();
    client.subscribe({ channel: 't', since: '' });
    client.subscribe(Array.from({ length: 1000 }, (_, i) => `c-${i}`));
    await tick();
    expect(refusals.slice(2, 4)).toEqual(['t:invalid_payload', 'c-998:too_many_channels']);
    expect(refusals).toHaveLength(5);
    expect(client.channels).toHaveLength(1000);
    const sent = fake.changes.at(-1) as readonly string[];
    expect(sent).toHaveLength(998);
    client.close();
  });
});

describe('SSE request for a channel set', () => {
  const stream = new URL('http://h/api/events');
  it('GET names the set, the fresh channels and (native) the id', () => {
    const set = { resume: ['a'], fresh: ['b'], since: [] };
    expect(channelStreamRequest(stream, undefined, '1-2', set, true)).toEqual({
      url: 'http://h/api/events?channels=a%2Cb&fresh=b&lastEventId=1-2',
    });
    expect(channelStreamRequest(stream, 'add', undefined, { resume: [], fresh: [], since: [] }, false)).toEqual({
      url: 'http://h/api/events?events=add&channels=',
    });
  });

  it('a large set, a `since` or a directory page travels in a POST body that means the same on any server', () => {
    const many = Array.from({ length: 300 }, (_, i) => `board-${i}`);
    const big = channelStreamRequest(stream, undefined, '1-2', { resume: many, fresh: [], since: [] }, true);
    expect(big.url.length).toBeLessThan(MAX_URL_LENGTH);
    expect(JSON.parse(big.body as string)).toEqual({ channels: many, lastEventId: '1-2' });
    const mixed = channelStreamRequest(
      stream,
      undefined,
      '1-2',
      { resume: ['a'], fresh: ['b'], since: [{ channel: 't', since: '1-1' }], directory: { kind: 'esp32' } },
      false,
    );
    expect(JSON.parse(mixed.body as string)).toEqual({
      channels: [{ channel: 'a', since: '1-2' }, 'b', { channel: 't', since: '1-1' }],
      directory: { kind: 'esp32' },
    });
  });
});

describe('directory mirror', () => {
  const entry = (id: string, kind = 'esp32', status = 'online') => ({ id, kind, status });

  it('folds entry events in id order; an entry that stops matching the filter leaves; removals count', () => {
    const mirror = createDirectoryMirror(() => ({ kind: 'esp32' }));
    const pages: unknown[] = [];
    mirror.on('change', (page) => pages.push(page));
    mirror.apply(entry('a'));
    expect(mirror.state).toBeUndefined();
    mirror.replace({ entries: [entry('b')], total: 1 });
    mirror.apply(entry('a'));
    mirror.apply(entry('c', 'pi'));
    expect(mirror.state).toEqual({ entries: [entry('a'), entry('b')], total: 2 });
    mirror.apply(entry('b', 'esp32', 'offline'));
    expect(mirror.state?.entries[1]).toEqual(entry('b', 'esp32', 'offline'));
    mirror.apply(entry('a', 'pi'));
    expect(mirror.state).toEqual({ entries: [entry('b', 'esp32', 'offline')], total: 1 });
    mirror.apply({ id: 'b', removed: true });
    mirror.apply({ id: 'zz', removed: true });
    expect(mirror.state).toEqual({ entries: [], total: 0 });
    // replace, a, b offline, a leaves, b removed: the non-matching and unknown ones changed nothing.
    expect(pages).toHaveLength(5);
  });

  it('a page with a limit shows what sorts inside it; total counts every match', () => {
    const mirror = createDirectoryMirror(() => ({ limit: 2 }));
    mirror.replace({ entries: [entry('b'), entry('d')], total: 3 });
    mirror.apply(entry('z'));
    expect(mirror.state).toEqual({ entries: [entry('b'), entry('d')], total: 4 });
    mirror.apply(entry('a'));
    expect(mirror.state).toEqual({ entries: [entry('a'), entry('b')], total: 5 });
  });
});
