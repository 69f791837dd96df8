import { connect, type Socket } from 'node:net';
import { DIRECTORY } from '@boardcast/core';
import type { EventSourceMessage } from 'eventsource-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { channelFleet, type FleetHub } from '../../../test-support/channel-fleet.js';
import { endAll } from '../../../test-support/end-all.js';
import { type BoardcastHttp, type BoardcastHttpOptions, boardcastHttp } from '../src/index.js';
import { listen, openStream, type TestServer, waitFor } from './helpers.js';

type TestHub = FleetHub;

interface Stream {
  readonly messages: EventSourceMessage[];
  readonly status: number;
  ended: boolean;
  close(): void;
  /** Parsed `data` of the messages named `event` (all when omitted). */
  data(event?: string): { channel?: string; data?: unknown; state?: unknown; error?: { code: string } }[];
}

let server: TestServer | undefined;
let api: BoardcastHttp | undefined;
let hub: TestHub | undefined;
const streams: Stream[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  await endAll(...streams.splice(0), ...sockets.splice(0), api, hub, server);
  server = api = hub = undefined;
});

/** A hub with board-1 and board-2 (described), bob seeing board-1 only, alice everything. */
function fleet(options: Parameters<typeof channelFleet>[0] = {}) {
  const made = channelFleet(options);
  hub = made.hub;
  return made;
}

async function serve(target: TestHub, options: BoardcastHttpOptions = {}) {
  api = boardcastHttp(target, {
    base: '/api',
    // Who the client is: the `x-user` header (a test stand-in for a session), optionally with an expiry.
    authorize: (request) => {
      const user = request.header('x-user');
      if (!user) return false;
      const expires = request.header('x-expires-at');
      return expires ? { id: user, expiresAt: Number(expires) } : user;
    },
    ...options,
  });
  server = await listen(api.node);
  return server.url;
}

async function open(url: string, init: { headers?: Record<string, string> } & RequestInit = {}): Promise<Stream> {
  const { headers, ...rest } = init;
  const reader = await openStream(url, headers, rest);
  const stream: Stream = Object.assign(reader, {
    status: reader.response.status,
    data: (event?: string) =>
      reader.messages.filter((m) => event === undefined || m.event === event).map((m) => JSON.parse(m.data)),
  });
  streams.push(stream);
  return stream;
}

/**
 * carol's stream of board-1 and board-2 over a raw socket that stops reading
 * at once, so the server's buffer for it fills.
 */
async function stalledCarol(base: string) {
  const { port } = new URL(base);
  const socket = connect(Number(port), '127.0.0.1');
  sockets.push(socket);
  socket.pause();
  socket.write(
    'GET /api/events?channels=board-1,board-2 HTTP/1.1\r\nHost: 127.0.0.1\r\nx-user: carol\r\nAccept: text/event-stream\r\n\r\n',
  );
  await waitFor(() => api?.sse.clientCount === 1, 'stalled client connected');
  return { socket, slow: api?.sse.clients()[0] };
}

/** Publish 16 KiB blobs on board-1 until more than 64 KiB wait for `slow`. */
async function fillPast64KiB(hub: TestHub, slow: { readonly peakBufferedBytes: number } | undefined) {
  const blob = 'x'.repeat(16 * 1024);
  for (let i = 0; i < 5000 && (slow?.peakBufferedBytes ?? 0) <= 64 * 1024; i++) {
    await hub.channel('board-1').publish('blob', blob);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Resume reading `socket`; `text` keeps the last 8 KiB it received. */
function readTail(socket: Socket): { text: string } {
  const received = { text: '' };
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    received.text = (received.text + chunk).slice(-8192);
  });
  socket.resume();
  return received;
}

/**
 * Resume reading the stalled `socket` and wait for its restart (`slow`'s one
 * reset and a new snapshot of `channel`), then publish `tick` on `channel`
 * and wait until it arrives live. Resolves with the tail read (readTail).
 */
async function restartedThenLive(
  hub: TestHub,
  socket: Socket,
  slow: { readonly resets: number } | undefined,
  channel: string,
  tick: number,
): Promise<string> {
  const received = readTail(socket);
  await waitFor(
    () => slow?.resets === 1 && received.text.includes(`"channel":"${channel}","state"`),
    'restart',
    15_000,
  );
  await hub.channel(channel).publish('tick', tick);
  await waitFor(
    () => received.text.includes(`"channel":"${channel}","data":${tick}`),
    `${channel} live after the restart`,
  );
  return received.text;
}

const as = (user: string, extra: Record<string, string> = {}) => ({ headers: { 'x-user': user, ...extra } });
const postStream = (user: string, body: unknown, extra: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'x-user': user, 'Content-Type': 'application/json', ...extra },
  body: JSON.stringify(body),
});

describe('SSE channels', () => {
  it('a viewer with rights to board-1 only never gets board-2: events, state or directory entry, fresh or resumed (GET and POST)', async () => {
    const { hub } = fleet();
    await hub.channel('board-1').describe({ kind: 'esp32', status: 'online' });
    await hub.channel('board-2').describe({ kind: 'esp32', status: 'online' });
    await hub.channel('board-2').publish('tick', 222);
    const base = await serve(hub);

    const bob = await open(`${base}/api/events?channels=board-1,board-2,${DIRECTORY}`, as('bob'));
    const alice = await open(`${base}/api/events?channels=board-1,board-2,${DIRECTORY}`, as('alice'));
    await waitFor(() => bob.data('snapshot').length === 2 && alice.data('snapshot').length === 3, 'snapshots');
    expect(bob.data('forbidden')).toEqual([
      { channel: 'board-2', error: { code: 'forbidden', message: 'channel "board-2" is not yours to see' } },
    ]);
    const directory = bob.data('snapshot').find((d) => d.channel === DIRECTORY);
    expect(directory?.state).toMatchObject({ entries: [{ id: 'board-1', kind: 'esp32' }], total: 1 });
    const first = bob.messages.at(-1)?.id as string;

    await hub.channel('board-2').publish('tick', 2002);
    await hub.channel('board-2').describe({ status: 'offline', firmware: 'v2-secret' });
    await hub.channel('board-1').publish('tick', 1001);
    await waitFor(() => bob.data('tick').length === 1 && alice.data('tick').length === 2, 'the ticks');
    expect(bob.data('tick')).toEqual([{ channel: 'board-1', data: 1001 }]);
    // What bob may not see exists: alice sees it.
    expect(JSON.stringify(alice.messages)).toContain('v2-secret');
    expect(JSON.stringify(bob.messages)).not.toContain('v2-secret');
    expect(JSON.stringify(bob.messages)).not.toContain('2002');
    expect(JSON.stringify(bob.messages)).not.toContain('222');
    expect(bob.messages.filter((m) => m.data.includes('board-2'))).toHaveLength(1); // the forbidden frame

    // Resumed from an id older than board-2's events, by GET and by POST with a large-set body.
    const resumed = await open(`${base}/api/events?channels=board-1,board-2&lastEventId=${first}`, as('bob'));
    const posted = await open(
      `${base}/api/events`,
      postStream('bob', { channels: ['board-1', { channel: 'board-2', since: first }], lastEventId: first }),
    );
    for (const stream of [resumed, posted]) {
      await waitFor(() => stream.data('tick').length === 1, 'the replay');
      expect(stream.data('forbidden').map((d) => d.channel)).toEqual(['board-2']);
      expect(stream.data('tick')).toEqual([{ channel: 'board-1', data: 1001 }]);
      expect(JSON.stringify(stream.messages)).not.toMatch(/2002|222|v2-secret/);
    }
  });

  it('commands to board-2 are forbidden over HTTP and never reach the handler; ?channel= names the channel', async () => {
    const { hub, ran } = fleet();
    const base = await serve(hub);
    const send = (user: string, query: string) =>
      fetch(`${base}/api/commands/bump${query}`, {
        method: 'POST',
        headers: { 'x-user': user, 'Content-Type': 'application/json' },
        body: '{"by":1}',
      });
    const refused = await send('bob', '?channel=board-2');
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.code).toBe('forbidden');
    expect(ran).toEqual([]);
    const bad = await send('alice', '?channel=no%20spaces');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('invalid_payload');
    const ok = await send('bob', '?channel=board-1');
    expect(await ok.json()).toEqual({ channel: 'board-1' });
    expect((await send('alice', '?channel=board-2')).status).toBe(200);
    expect(ran).toEqual(['board-1:bob', 'board-2:alice']);
    // No channel: the default channel, which bob may not command.
    expect((await send('bob', '')).status).toBe(403);
  });

  it('GET /directory gives the page the principal may see, filtered and paged, with the usual checks', async () => {
    const { hub } = fleet();
    await hub.channel('board-1').describe({ kind: 'esp32', status: 'online' });
    await hub.channel('board-2').describe({ kind: 'esp32', status: 'offline' });
    await hub.channel('board-3').describe({ kind: 'pi', status: 'online' });
    const base = await serve(hub);
    const page = async (user: string | undefined, query = '') => {
      const response = await fetch(`${base}/api/directory${query}`, user ? as(user) : {});
      return { status: response.status, body: await response.json() };
    };
    expect((await page('bob')).body).toEqual({
      entries: [{ id: 'board-1', kind: 'esp32', status: 'online' }],
      total: 1,
    });
    expect((await page('alice')).body.total).toBe(3);
    const filtered = await page('alice', '?kind=esp32&limit=1&offset=1');
    expect(filtered.body).toEqual({ entries: [{ id: 'board-2', kind: 'esp32', status: 'offline' }], total: 2 });
    expect((await page('alice', '?status=online')).body.entries.map((e: { id: string }) => e.id)).toEqual([
      'board-1',
      'board-3',
    ]);
    const bad = await page('alice', '?offset=-1');
    expect([bad.status, bad.body.error.code]).toEqual([400, 'invalid_payload']);
    expect((await page(undefined)).status).toBe(401);
    const evil = await fetch(`${base}/api/directory`, {
      headers: { 'x-user': 'alice', Origin: 'http://evil.example' },
    });
    expect(evil.status).toBe(403);
    const post = await fetch(`${base}/api/directory`, { method: 'POST', ...as('alice') });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, OPTIONS']);
  });

  it('the Fetch handlers take a POST channel list and serve the directory too', async () => {
    const { hub } = fleet();
    await hub.channel('board-1').describe({ kind: 'esp32' });
    await hub.channel('board-2').describe({ kind: 'esp32' });
    await serve(hub);
    const handler = api as BoardcastHttp;
    const response = await handler.fetch(
      new Request('http://127.0.0.1/api/events', {
        method: 'POST',
        headers: { 'x-user': 'bob', 'Content-Type': 'application/json' },
        body: JSON.stringify({ channels: ['board-1', { channel: 'board-2' }] }),
      }),
    );
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const decoder = new TextDecoder();
    while (!text.includes('event: snapshot')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel();
    expect(text).toContain('event: forbidden\ndata: {"channel":"board-2"');
    expect(text).toContain('event: snapshot\ndata: {"channel":"board-1","state":{"ticks":0,"last":0}}');
    const page = await handler.fetch(new Request('http://127.0.0.1/api/directory?kind=esp32', as('bob')));
    expect(await page.json()).toEqual({ entries: [{ id: 'board-1', kind: 'esp32' }], total: 1 });
    const tooBig = await handler.fetch(
      new Request('http://127.0.0.1/api/events', {
        method: 'POST',
        headers: { 'x-user': 'bob', 'Content-Type': 'application/json' },
        body: JSON.stringify({ channels: ['x'.repeat(300_000)] }),
      }),
    );
    expect(tooBig.status).toBe(413);
  });

  it('revocation cuts board-2 from a live stream with a forbidden frame; nothing published after reaches it', async () => {
    const { hub, access } = fleet();
    const base = await serve(hub);
    const carol = await open(`${base}/api/events?channels=board-1,board-2`, as('carol'));
    await waitFor(() => carol.data('snapshot').length === 2, 'snapshots');
    await hub.channel('board-2').publish('tick', 1);
    await waitFor(() => carol.data('tick').length === 1, 'board-2 live');
    access.set('carol', { see: ['board-1'] });
    await hub.invalidateAccess('carol');
    await hub.channel('board-2').publish('tick', 2);
    await hub.channel('board-1').publish('tick', 3);
    await waitFor(() => carol.data('tick').length === 2, 'board-1 still live');
    expect(carol.data('forbidden')).toEqual([
      { channel: 'board-2', error: { code: 'forbidden', message: 'channel "board-2" is not yours to see' } },
    ]);
    expect(carol.data('tick')).toEqual([
      { channel: 'board-2', data: 1 },
      { channel: 'board-1', data: 3 },
    ]);
    // The forbidden frame came before anything published after the call.
    const order = carol.messages.map((m) => m.event);
    expect(order.indexOf('forbidden')).toBeLessThan(order.lastIndexOf('tick'));
  });

  it('a stream naming no channels is refused 403 up front when the viewer may not see the default channel', async () => {
    const { hub } = fleet();
    const base = await serve(hub);
    const refused = await fetch(`${base}/api/events`, as('bob'));
    expect(refused.status).toBe(403);
    expect((await refused.json()).error.code).toBe('forbidden');
    const alice = await open(`${base}/api/events`, as('alice'));
    await waitFor(() => alice.messages.some((m) => m.event === 'snapshot'), 'alice snapshot');
    expect(alice.messages[0]?.data).toBe('{"ticks":0,"last":0}');
  });

  it('a credential that expires ends the stream at expiresAt; an expired one is 401', async () => {
    const { hub } = fleet();
    const base = await serve(hub);
    const reasons: string[] = [];
    api?.sse.on('disconnect', (_client, reason) => reasons.push(reason));
    const expired = await fetch(`${base}/api/events?channels=board-1`, as('alice', { 'x-expires-at': '1' }));
    expect([expired.status, (await expired.json()).error.code]).toEqual([401, 'unauthorized']);
    const command = await fetch(`${base}/api/commands/bump?channel=board-1`, {
      method: 'POST',
      headers: { 'x-user': 'alice', 'x-expires-at': '1', 'Content-Type': 'application/json' },
      body: '{"by":1}',
    });
    expect(command.status).toBe(401);
    const at = Date.now() + 600;
    const stream = await open(`${base}/api/events?channels=board-1`, as('alice', { 'x-expires-at': String(at) }));
    await waitFor(() => stream.data('snapshot').length === 1, 'snapshot');
    await waitFor(() => stream.ended, 'the stream ended at expiresAt');
    expect(Date.now()).toBeGreaterThanOrEqual(at);
    expect(reasons).toEqual(['expired']);
    expect(api?.sse.clientCount).toBe(0);
  });

  it('bounds hold against a hostile client: ids per request, body size, grammar, channels per connection', async () => {
    const { hub } = fleet({ maxChannelsPerConnection: 3 });
    const base = await serve(hub, { sse: { maxBodyBytes: 4096 } });
    const many = Array.from({ length: 1001 }, (_, i) => `x${i}`);
    const codes = async (response: Response) => [response.status, (await response.json()).error.code];
    expect(await codes(await fetch(`${base}/api/events?channels=${many.join(',')}`, as('alice')))).toEqual([
      400,
      'invalid_payload',
    ]);
    expect(await codes(await fetch(`${base}/api/events?channels=a,b%2Fc`, as('alice')))).toEqual([
      400,
      'invalid_payload',
    ]);
    const big = await fetch(`${base}/api/events`, postStream('alice', { channels: many }));
    expect(await codes(big)).toEqual([413, 'payload_too_large']);
    const text = await fetch(`${base}/api/events`, {
      ...postStream('alice', { channels: [] }),
      headers: as('alice').headers,
    });
    expect((await text.json()).error.code).toBe('unsupported_media_type');
    const shape = await fetch(`${base}/api/events`, postStream('alice', { channels: [{ channel: 1 }] }));
    expect(await codes(shape)).toEqual([400, 'invalid_payload']);
    expect(api?.sse.clientCount).toBe(0);

    const before = hub.channels;
    const stream = await open(`${base}/api/events?channels=n1,n2,n3,n4,n5`, as('alice'));
    await waitFor(() => stream.data('forbidden').length === 2 && stream.data('snapshot').length === 3, 'frames');
    expect(stream.data('forbidden').map((d) => [d.channel, d.error?.code])).toEqual([
      ['n4', 'too_many_channels'],
      ['n5', 'too_many_channels'],
    ]);
    // Naming channels creates none.
    expect(hub.channels).toEqual(before);
  });

  it('a quiet channel added after a busy one, then a reconnect with Last-Event-ID: nothing lost, nothing folded twice', async () => {
    const { hub } = fleet();
    const base = await serve(hub);
    const busy = hub.channel('board-1');
    const quiet = hub.channel('board-2');
    await quiet.publish('tick', 1);
    for (let i = 0; i < 20; i++) await busy.publish('tick', i);

    // The client's mirror: one state per channel, folded exactly as a browser would.
    const mirror = new Map<string, { ticks: number; last: number }>();
    const folded: string[] = [];
    let position = '';
    const apply = (m: EventSourceMessage) => {
      const d = JSON.parse(m.data);
      if (m.event === 'snapshot') mirror.set(d.channel, d.state);
      if (m.event === 'tick') {
        const state = mirror.get(d.channel);
        if (!state) throw new Error(`tick of ${d.channel} before its snapshot`);
        mirror.set(d.channel, { ticks: state.ticks + 1, last: d.data });
        folded.push(m.id as string);
      }
      if (m.id) position = m.id;
    };
    const follow = (stream: Stream, from = 0) => {
      let seen = from;
      return () => {
        for (; seen < stream.messages.length; seen++) apply(stream.messages[seen] as EventSourceMessage);
      };
    };

    const after = (pump: () => void, check: () => boolean) => () => {
      pump();
      return check();
    };
    const first = await open(`${base}/api/events?channels=board-1`, as('carol'));
    const pump1 = follow(first);
    await waitFor(
      after(pump1, () => mirror.has('board-1')),
      'board-1 snapshot',
    );
    for (let i = 20; i < 40; i++) await busy.publish('tick', i);
    await waitFor(
      after(pump1, () => mirror.get('board-1')?.last === 39),
      'live ticks',
    );
    // Change the set: freeze the old stream at the position held (what it
    // delivers after is dropped), open the new one from it, drop the old one.
    const held = position;
    for (let i = 40; i < 45; i++) await busy.publish('tick', i);
    const url = `${base}/api/events?channels=board-1,board-2&fresh=board-2&lastEventId=${encodeURIComponent(held)}`;
    const second = await open(url, as('carol'));
    first.close();
    const pump2 = follow(second);
    for (let i = 45; i < 60; i++) await busy.publish('tick', i);
    await quiet.publish('tick', 2);
    await waitFor(
      after(pump2, () => mirror.get('board-1')?.last === 59 && mirror.get('board-2')?.last === 2),
      'both live on the new stream',
    );
    // The link drops; the browser reconnects to the same URL with Last-Event-ID.
    second.close();
    pump2();
    expect(position).not.toBe(held);
    for (let i = 60; i < 70; i++) await busy.publish('tick', i);
    await quiet.publish('tick', 3);
    const third = await open(url, as('carol', { 'Last-Event-ID': position }));
    const pump3 = follow(third);
    await waitFor(
      after(pump3, () => mirror.get('board-1')?.last === 69 && mirror.get('board-2')?.last === 3),
      'caught up on both',
    );
    expect(new Set(folded).size).toBe(folded.length);
    expect(mirror.get('board-1')).toEqual(busy.state);
    expect(mirror.get('board-2')).toEqual(quiet.state);
    // board-1 resumed without a reset: no snapshot of it on the third stream.
    expect(third.data('snapshot').map((d) => d.channel)).toEqual(['board-2']);
    expect(third.data('reset')).toEqual([]);
  });

  it("slowClient 'reset' keeps a channel stream's set: each channel gets reset (slow) and its snapshot, then live events", async () => {
    const { hub } = fleet({ history: 10 });
    const base = await serve(hub, { sse: { highWaterMark: 64 * 1024, slowClient: 'reset' } });
    const { socket, slow } = await stalledCarol(base);
    expect(slow?.channels).toEqual(['board-1', 'board-2']);
    await fillPast64KiB(hub, slow);
    expect(slow?.peakBufferedBytes).toBeGreaterThan(64 * 1024);
    await hub.channel('board-2').publish('tick', 7);
    const text = await restartedThenLive(hub, socket, slow, 'board-2', 8);
    const tail = text.slice(text.indexOf('event: reset'));
    expect(tail).toContain('event: reset\ndata: {"channel":"board-1","reason":"slow"}');
    expect(tail).toContain('event: reset\ndata: {"channel":"board-2","reason":"slow"}');
    expect(tail).toContain('"channel":"board-2","state":{"ticks":1,"last":7}');
    expect(api?.sse.clientCount).toBe(1);
  });
  it('a channel revoked while the stream was stalled still gets its forbidden frame, before the restart', async () => {
    const { hub, access } = fleet({ history: 10 });
    const base = await serve(hub, { sse: { highWaterMark: 64 * 1024, slowClient: 'reset' } });
    const { socket, slow } = await stalledCarol(base);
    await fillPast64KiB(hub, slow);
    access.set('carol', { see: ['board-1'] });
    await hub.invalidateAccess('carol');
    await hub.channel('board-2').publish('tick', 99);
    const text = await restartedThenLive(hub, socket, slow, 'board-1', 5);
    const tail = text.slice(text.indexOf('event: forbidden'));
    expect(tail).toMatch(/^event: forbidden\ndata: \{"channel":"board-2","error":\{"code":"forbidden"/);
    expect(tail).toContain('event: reset\ndata: {"channel":"board-1","reason":"slow"}');
    expect(tail).not.toContain('"channel":"board-2","reason"');
    expect(text).not.toContain('"data":99');
  });
});
