import { Agent, type ClientRequest, get as httpGet, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { BoardcastError, createHub } from '@boardcast/core';
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { endAll } from '../../../test-support/end-all.js';
import { createSseEndpoint, type SseEndpointOptions } from '../src/index.js';
import {
  contract,
  listen,
  makeHub,
  openStream,
  type StreamReader,
  summary,
  type TestServer,
  waitFor,
} from './helpers.js';

let server: TestServer | undefined;
let hub: ReturnType<typeof makeHub>;
let sse: ReturnType<typeof createSseEndpoint>;
const readers: StreamReader[] = [];
const sources: EventSource[] = [];

async function setup(options: SseEndpointOptions = {}, history = 100) {
  hub = makeHub(history);
  sse = createSseEndpoint(hub, options);
  server = await listen(sse.node);
  return server.url;
}

async function open(path = '', headers: Record<string, string> = {}) {
  const reader = await openStream(`${server?.url}${path}`, headers);
  readers.push(reader);
  return reader;
}

afterEach(async () => {
  await endAll(...readers.splice(0), ...sources.splice(0), sse, hub, server);
  server = undefined;
});

describe('SSE stream (node:http)', () => {
  it('sends the headers, retry, then the snapshot, then live events in order', async () => {
    await setup({ retry: 1234 });
    const reader = await open();
    expect(reader.response.status).toBe(200);
    expect(reader.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(reader.response.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(reader.response.headers.get('x-accel-buffering')).toBe('no');
    expect(reader.response.headers.get('connection')).toBe('keep-alive');
    await waitFor(() => reader.messages.length === 1, 'snapshot');
    const ids: string[] = [];
    ids.push(await hub.publish('time', '12:00'));
    ids.push(await hub.publish('led', { on: true }));
    ids.push(await hub.publish('pin_change', { pin: 'P10', value: 1 }));
    await waitFor(() => reader.messages.length === 4, 'three events');
    expect(reader.retries).toEqual([1234]);
    expect(summary(reader.messages)).toEqual([
      'snapshot:{"led":{"on":false}}',
      'time:"12:00"',
      'led:{"on":true}',
      'pin_change:{"pin":"P10","value":1}',
    ]);
    expect(reader.messages.slice(1).map((m) => m.id)).toEqual(ids);
    expect(sse.clientCount).toBe(1);
  });

  it('works with the WHATWG EventSource client and resumes after a forced disconnect with nothing lost or duplicated', async () => {
    await setup({ retry: 100 });
    const received: string[] = [];
    let opens = 0;
    const source = new EventSource(`${server?.url}/`);
    sources.push(source);
    source.addEventListener('open', () => opens++);
    source.addEventListener('snapshot', (e) => received.push(`snapshot:${e.data}`));
    source.addEventListener('time', (e) => received.push(`time:${e.data}@${e.lastEventId}`));
    await waitFor(() => received.length === 1, 'snapshot');
    const before = await hub.publish('time', 'a');
    await waitFor(() => received.length === 2, 'first event');

    // Cut the connection from the server side, then publish while the client is away.
    const disconnected = new Promise<string>((resolve) => sse.once('disconnect', (_c, reason) => resolve(reason)));
    for (const socket of server?.sockets ?? []) socket.destroy();
    expect(await disconnected).toBe('client');
    const missed = [await hub.publish('time', 'b'), await hub.publish('time', 'c')];
    await waitFor(() => opens === 2 && sse.clientCount === 1, 'reconnect');
    const after = await hub.publish('time', 'd');
    await waitFor(() => received.length === 5, 'all events');
    expect(received).toEqual([
      'snapshot:{"led":{"on":false}}',
      `time:"a"@${before}`,
      `time:"b"@${missed[0]}`,
      `time:"c"@${missed[1]}`,
      `time:"d"@${after}`,
    ]);
    // The resumed stream carried the id it resumed from and got no second snapshot.
    expect(sse.clients()[0]?.lastEventId).toBe(before);
  });

  it('replays exactly the missed events for Last-Event-ID and for ?lastEventId=', async () => {
    await setup();
    const first = await hub.publish('time', 't1');
    await hub.publish('time', 't2');
    await hub.publish('led', { on: true });
    const byHeader = await open('', { 'Last-Event-ID': first });
    const byQuery = await open(`/?lastEventId=${encodeURIComponent(first)}`);
    await waitFor(() => byHeader.messages.length === 2 && byQuery.messages.length === 2, 'replay');
    await hub.publish('time', 't3');
    await waitFor(() => byHeader.messages.length === 3 && byQuery.messages.length === 3, 'live');
    const expected = ['time:"t2"', 'led:{"on":true}', 'time:"t3"'];
    expect(summary(byHeader.messages)).toEqual(expected);
    expect(summary(byQuery.messages)).toEqual(expected);
  });

  it('sends reset and a fresh snapshot when history no longer reaches back', async () => {
    await setup({}, 2);
    const first = await hub.publish('time', 't1');
    await hub.publish('time', 't2');
    await hub.publish('time', 't3');
    const head = await hub.publish('time', 't4');
    const reader = await open('', { 'Last-Event-ID': first });
    await waitFor(() => reader.messages.length === 2, 'reset + snapshot');
    expect(summary(reader.messages)).toEqual(['reset:{"reason":"history"}', 'snapshot:{"led":{"on":false}}']);
    expect(reader.messages[1]?.id).toBe(head);
    // An id from another process (unknown epoch) is a gap too.
    const stranger = await open('', { 'Last-Event-ID': 'zzz-1' });
    await waitFor(() => stranger.messages.length === 2, 'reset for unknown id');
    expect(stranger.messages[0]?.event).toBe('reset');
  });

  it('announces the keep-alive period first and repeats the keepalive frame at that interval', async () => {
    await setup({ keepAliveMs: 30 });
    const reader = await open();
    // The first frame comes with the stream; the next two only from the timer.
    await waitFor(() => reader.keepalives.length >= 3, 'three keepalive frames');
    expect(reader.keepalives.slice(0, 3)).toEqual([30, 30, 30]);
    expect(reader.comments).toEqual([]);
  });

  it('treats a Last-Event-ID it will not parse as foreign: reset + snapshot, never a refusal', async () => {
    await setup();
    await hub.publish('time', 't1');
    for (const id of ['x'.repeat(5000), 'not-an-id', '\u00e9\u00e9-1', '-', '1-']) {
      const reader = await open('', { 'Last-Event-ID': id });
      expect(reader.response.status).toBe(200);
      await waitFor(() => reader.messages.length === 2, `reset + snapshot for ${id.slice(0, 10)}`);
      expect(summary(reader.messages)).toEqual(['reset:{"reason":"history"}', 'snapshot:{"led":{"on":false}}']);
      reader.close();
    }
  });

  it('filters with ?events= and refuses unknown names', async () => {
    await setup();
    const reader = await open('/?events=pin_change,time');
    await waitFor(() => reader.messages.length === 1, 'snapshot');
    await hub.publish('led', { on: true });
    await hub.publish('time', 'x');
    await hub.publish('pin_change', { pin: 'P10', value: 0 });
    await hub.publish('led', { on: false });
    await hub.publish('time', 'y');
    await waitFor(() => reader.messages.length === 4, 'filtered events');
    expect(summary(reader.messages)).toEqual([
      'snapshot:{"led":{"on":false}}',
      'time:"x"',
      'pin_change:{"pin":"P10","value":0}',
      'time:"y"',
    ]);
    expect(sse.clients()[0]?.events).toEqual(['pin_change', 'time']);

    const bad = await fetch(`${server?.url}/?events=led,nope`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: 'invalid_payload', message: expect.stringContaining('nope') } });
  });

  it('refuses clients over maxClients with 503, Retry-After and too_many_clients, and keeps serving the others', async () => {
    await setup({ maxClients: 2, retryAfterSeconds: 7 });
    const a = await open();
    const b = await open();
    await waitFor(() => sse.clientCount === 2, 'two clients');
    const rejected: string[] = [];
    sse.on('reject', (error) => rejected.push(error.code));
    const refused = await fetch(`${server?.url}/`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('7');
    expect(await refused.json()).toEqual({
      error: { code: 'too_many_clients', message: 'at most 2 event streams are allowed' },
    });
    expect(rejected).toEqual(['too_many_clients']);
    await hub.publish('time', 'still here');
    await waitFor(() => a.messages.length === 2 && b.messages.length === 2, 'others keep receiving');
    // A slot frees up when a client leaves.
    a.close();
    await waitFor(() => sse.clientCount === 1, 'a left');
    const c = await open();
    expect(c.response.status).toBe(200);
  });

  it('caps open streams per remote address with maxClientsPerAddress, freeing the slot when one ends', async () => {
    await setup({ maxClientsPerAddress: 2 });
    const port = Number(new URL(server?.url ?? '').port);
    const from = (localAddress: string) =>
      new Promise<{ status: number; request: ClientRequest; body: string }>((resolve, reject) => {
        const request = httpGet({ host: '127.0.0.1', port, path: '/', localAddress }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.once('data', (chunk: string) => {
            body += chunk;
            resolve({ status: res.statusCode ?? 0, request, body });
          });
        });
        request.on('error', reject);
      });
    const first = await from('127.0.0.1');
    const second = await from('127.0.0.1');
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await from('127.0.0.1');
    expect(third.status).toBe(503);
    expect(JSON.parse(third.body).error).toEqual({
      code: 'too_many_clients',
      message: 'at most 2 event streams are allowed per address',
    });
    // Another address (all of 127/8 is loopback on Linux) still gets in.
    const other = await from('127.0.0.2');
    expect(other.status).toBe(200);
    expect(sse.clients().map((c) => c.remoteAddress)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.2']);
    first.request.destroy();
    await waitFor(() => sse.clientCount === 2, 'first gone');
    const again = await from('127.0.0.1');
    expect(again.status).toBe(200);
    for (const open of [second, other, again]) open.request.destroy();
  });

  it('refuses nonsensical retry and keepAliveMs values at construction with a RangeError', () => {
    const hub2 = makeHub();
    for (const options of [
      { retry: 0 },
      { retry: 99 },
      { retry: 3_600_001 },
      { retry: Number.NaN },
      { retry: { min: 0, max: 1000 } },
      { retry: { min: 2000, max: 1000 } },
      { keepAliveMs: 5 },
      { keepAliveMs: -1 },
      { maxClientsPerAddress: 0 },
      { slowClient: 'drop' as 'reset' },
    ] satisfies SseEndpointOptions[]) {
      expect(() => createSseEndpoint(hub2, options), JSON.stringify(options)).toThrow(
        options.slowClient ? TypeError : RangeError,
      );
    }
    // The edges are accepted, and 0 turns the keep-alive off.
    for (const options of [
      { retry: 100 },
      { retry: 3_600_000 },
      { retry: { min: 100, max: 100 } },
      { keepAliveMs: 0 },
    ]) {
      expect(() => createSseEndpoint(hub2, options).close()).not.toThrow();
    }
  });

  it('randomizes retry within a range: every stream gets a value in it, and they differ', async () => {
    await setup({ retry: { min: 1000, max: 2000 } });
    const values: number[] = [];
    for (let i = 0; i < 8; i++) {
      const reader = await open();
      await waitFor(() => reader.retries.length === 1, 'retry');
      values.push(reader.retries[0] ?? -1);
      reader.close();
    }
    expect(values).toHaveLength(8);
    for (const value of values) {
      expect(value).toBeGreaterThanOrEqual(1000);
      expect(value).toBeLessThanOrEqual(2000);
    }
    // Spread, not one fixed value in range: eight draws from ~1000 values are all
    // equal with probability about 1e-21.
    expect(new Set(values).size).toBeGreaterThan(1);
  });

  it('answers 405 with Allow for other methods', async () => {
    await setup();
    const response = await fetch(`${server?.url}/`, { method: 'PUT' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, POST, OPTIONS');
    expect((await response.json()).error).toEqual({
      code: 'method_not_allowed',
      message: 'PUT is not allowed; use GET or POST',
    });
  });

  it('emits connect and disconnect once per stream, and close() ends every stream and timer', async () => {
    await setup({ keepAliveMs: 20 });
    const log: string[] = [];
    sse.on('connect', (client) => log.push(`connect ${client.id} ${client.adapter}`));
    sse.on('disconnect', (client, reason) => log.push(`disconnect ${client.id} ${reason}`));
    const a = await open();
    const b = await open();
    await waitFor(() => a.messages.length === 1 && b.messages.length === 1, 'snapshots');
    a.close();
    await waitFor(() => sse.clientCount === 1, 'a gone');
    const closing = sse.close();
    // Idempotent: a second close() (the hub's close after the app's own) waits for
    // the same streams, not for the empty list they left at once.
    expect(sse.close()).toBe(closing);
    await waitFor(() => b.ended, 'b ended by server');
    expect(sse.clientCount).toBe(0);
    expect(hub.subscriberCount).toBe(0);
    expect(log).toEqual([
      'connect sse-1 node',
      'connect sse-2 node',
      'disconnect sse-1 client',
      'disconnect sse-2 closed',
    ]);
    const late = await fetch(`${server?.url}/`);
    expect(late.status).toBe(503);
    expect((await late.json()).error).toEqual({ code: 'closed', message: 'the event stream is shut down' });
  });

  it('runs authorize (async) before opening a stream: 401, 403, and the value on the client', async () => {
    await setup({
      authorize: async (request) => {
        const key = request.url.searchParams.get('key');
        if (key === 'guest') throw new BoardcastError('forbidden', 'guests cannot watch');
        return key === 'secret' ? { user: 'ada' } : false;
      },
    });
    const denied = await fetch(`${server?.url}/`);
    expect(denied.status).toBe(401);
    expect((await denied.json()).error.code).toBe('unauthorized');
    const forbidden = await fetch(`${server?.url}/?key=guest`);
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json()).error.code).toBe('forbidden');
    const connected = new Promise<unknown>((resolve) => sse.once('connect', (client) => resolve(client.auth)));
    const reader = await open('/?key=secret');
    expect(reader.response.status).toBe(200);
    expect(await connected).toEqual({ user: 'ada' });
    expect(sse.clientCount).toBe(1);
  });

  it('ends every stream when the hub closes', async () => {
    await setup();
    const reader = await open();
    await waitFor(() => reader.messages.length === 1, 'snapshot');
    await hub.close();
    await waitFor(() => reader.ended, 'stream ended');
    expect(sse.clientCount).toBe(0);
  });
  it('names the package, the option and its bounds in each construction error', () => {
    const hub2 = makeHub();
    for (const [options, message] of [
      [{ keepAliveMs: 5 }, '@boardcast/sse-server: keepAliveMs must be between 10 and 3600000 ms (got 5)'],
      [{ retry: 99 }, '@boardcast/sse-server: retry must be between 100 and 3600000 ms (got 99)'],
      [
        { retry: { min: 50, max: 1000 } },
        '@boardcast/sse-server: retry.min must be between 100 and 3600000 ms (got 50)',
      ],
      [
        { retry: { min: 100, max: 4e6 } },
        '@boardcast/sse-server: retry.max must be between 100 and 3600000 ms (got 4000000)',
      ],
      [{ retry: { min: 2000, max: 1000 } }, '@boardcast/sse-server: retry range needs min <= max'],
      [{ retryAfterSeconds: -1 }, '@boardcast/sse-server: retryAfterSeconds must be a number >= 0'],
      [{ maxBodyBytes: -1 }, '@boardcast/sse-server: maxBodyBytes must be a number >= 0'],
      [{ maxClientsPerAddress: 0 }, '@boardcast/sse-server: maxClientsPerAddress must be an integer >= 1 (got 0)'],
    ] satisfies [SseEndpointOptions, string][]) {
      expect(() => createSseEndpoint(hub2, options), JSON.stringify(options)).toThrow(message);
    }
    // 0 is a valid Retry-After and a valid (if useless) body limit.
    for (const options of [{ retryAfterSeconds: 0 }, { maxBodyBytes: 0 }]) {
      expect(() => createSseEndpoint(hub2, options).close(), JSON.stringify(options)).not.toThrow();
    }
  });

  it('reads ?events= leniently: blanks and spaces around names are ignored, an empty list means every event', async () => {
    await setup();
    const spaced = await open('/?events=time,%20led%20,,');
    const empty = await open('/?events=');
    await waitFor(() => spaced.messages.length === 1 && empty.messages.length === 1, 'snapshots');
    expect(sse.clients().map((c) => c.events)).toEqual([['time', 'led'], undefined]);
    await hub.publish('pin_change', { pin: 'P1', value: 1 });
    await hub.publish('time', 't');
    await waitFor(() => spaced.messages.length === 2 && empty.messages.length === 3, 'events');
    expect(summary(spaced.messages).slice(1)).toEqual(['time:"t"']);
    expect(summary(empty.messages).slice(1)).toEqual(['pin_change:{"pin":"P1","value":1}', 'time:"t"']);
    // An unknown name is echoed, but only its first 64 characters.
    const long = `${'a'.repeat(64)}${'b'.repeat(36)}`;
    const bad = await fetch(`${server?.url}/?events=${long}`);
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toBe(`unknown event "${'a'.repeat(64)}" in ?events=`);
  });

  it('keeps a Last-Event-ID of up to 256 characters and replaces a longer one by a foreign id', async () => {
    await setup();
    const longest = await open('', { 'Last-Event-ID': 'x'.repeat(256) });
    await waitFor(() => sse.clientCount === 1, 'first stream');
    const tooLong = await open('', { 'Last-Event-ID': 'y'.repeat(257) });
    await waitFor(() => longest.messages.length === 2 && tooLong.messages.length === 2, 'reset + snapshot');
    expect(sse.clients().map((c) => c.lastEventId)).toEqual(['x'.repeat(256), 'foreign']);
  });

  it('takes a POST channel list from the body only, resumes it from Last-Event-ID, and names the list in refusals', async () => {
    await setup();
    const first = await hub.publish('time', 't1');
    await hub.publish('time', 't2');
    const post = (body: string, headers: Record<string, string> = {}) => ({
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body,
    });
    // ?channels= is a GET's; a POST ignores it, even when it would be refused.
    expect((await fetch(`${server?.url}/?channels=no%20spaces`)).status).toBe(400);
    // openStream's headers argument replaces init.headers, so they go there.
    const resumed = await openStream(
      `${server?.url}/?channels=no%20spaces`,
      { 'Content-Type': 'application/json', 'Last-Event-ID': first },
      { method: 'POST', body: '{"channels":["default"]}' },
    );
    readers.push(resumed);
    expect(resumed.response.status).toBe(200);
    await waitFor(() => resumed.messages.length === 1, 'the replay');
    expect(summary(resumed.messages)).toEqual(['time:{"channel":"default","data":"t2"}']);
    const invalid = await fetch(`${server?.url}/`, post('{"channels":'));
    expect(invalid.status).toBe(400);
    expect((await invalid.json()).error.message).toBe('the channel list is not valid JSON');
  });

  it('closes the connection after refusing a POST whose body it did not read, and only then', async () => {
    await setup();
    const port = Number(new URL(server?.url ?? '').port);
    // A keep-alive agent, so that the server's choice shows in the Connection header.
    const agent = new Agent({ keepAlive: true });
    const ask = (contentType: string) =>
      new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
        const request = httpRequest(
          { host: '127.0.0.1', port, path: '/', method: 'POST', agent, headers: { 'Content-Type': contentType } },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
          },
        );
        request.on('error', reject);
        request.end('{"channels":');
      });
    try {
      expect(await ask('text/plain')).toEqual({ status: 415, connection: 'close' });
      expect(await ask('application/json')).toEqual({ status: 400, connection: 'keep-alive' });
    } finally {
      agent.destroy();
    }
  });

  it('adds the headers option to streams and to refusals', async () => {
    await setup({ headers: { 'X-Extra': 'yes' }, maxClients: 1 });
    const reader = await open();
    expect(reader.response.headers.get('x-extra')).toBe('yes');
    const refused = await fetch(`${server?.url}/`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('x-extra')).toBe('yes');
  });

  it('tells an HTTP/1.0 client (a proxy) that the stream keeps the connection open', async () => {
    await setup({ keepAliveMs: 0 });
    const head = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(server?.url ?? '').port), '127.0.0.1');
      let text = '';
      socket.on('error', reject);
      socket.on('data', (chunk) => {
        text += chunk;
        if (text.includes('\r\n\r\n')) {
          resolve(text.slice(0, text.indexOf('\r\n\r\n')));
          socket.destroy();
        }
      });
      socket.write('GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n');
    });
    expect(head.split('\r\n')).toContain('Connection: keep-alive');
  });

  it('asks for no Nagle delay, and for TCP keep-alive at keepAliveMs unless it is 0', async () => {
    for (const keepAliveMs of [20, 0]) {
      await setup({ keepAliveMs });
      const calls: unknown[][] = [];
      server?.server.on('connection', (socket: Socket) => {
        // Records what the endpoint asks of the socket, then does it.
        const { setNoDelay, setKeepAlive } = socket;
        socket.setNoDelay = (...args) => {
          calls.push(['setNoDelay', ...args]);
          return setNoDelay.apply(socket, args);
        };
        socket.setKeepAlive = (...args) => {
          calls.push(['setKeepAlive', ...args]);
          return setKeepAlive.apply(socket, args);
        };
      });
      const reader = await open();
      await waitFor(() => reader.messages.length === 1, 'snapshot');
      expect(calls).toEqual(
        keepAliveMs > 0
          ? [
              ['setNoDelay', true],
              ['setKeepAlive', true, keepAliveMs],
            ]
          : [['setNoDelay', true]],
      );
      await endAll(...readers.splice(0), sse, hub, server);
    }
  });

  it('answers 500 handler_failed when the stream cannot start, and cuts a stream that failed after its headers', async () => {
    await setup({ headers: { 'X-Bad': 'a\nb' } });
    const errors: string[] = [];
    hub.on('error', (error, where) => errors.push(`${where}: ${String(error)}`));
    // The invalid header value throws when the stream's headers are written.
    const failed = await fetch(`${server?.url}/`);
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ error: { code: 'handler_failed', message: 'stream failed' } });
    expect(errors).toEqual([expect.stringMatching(/^sse-server node handler: TypeError.*X-Bad/)]);
    await endAll(sse, hub, server);

    await setup();
    hub.on('error', (error, where) => errors.push(`${where}: ${String(error)}`));
    // The hub fails once the 200 and its headers are out: only cutting the stream is left.
    (hub as unknown as { connect: () => never }).connect = () => {
      throw new Error('hub broke');
    };
    const response = await fetch(`${server?.url}/`);
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
    expect(errors.slice(1)).toEqual(['sse-server node handler: Error: hub broke']);
  });

  it('refuses a stream of the default channel with 403 when access denies it or fails, reporting the failure', async () => {
    let fail = false;
    hub = createHub(contract, {
      state: { led: { on: false } },
      access: {
        canSee: () => {
          if (fail) throw new Error('policy store down');
          return false;
        },
      },
    });
    const errors: string[] = [];
    hub.on('error', (error, where) => errors.push(`${where}: ${String(error)}`));
    sse = createSseEndpoint(hub);
    server = await listen(sse.node);
    for (const failing of [false, true]) {
      fail = failing;
      const refused = await fetch(`${server.url}/`);
      expect(refused.status).toBe(403);
      expect(await refused.json()).toEqual({
        error: { code: 'forbidden', message: 'channel "default" is not yours to see' },
      });
    }
    expect(errors).toEqual(['access.canSee: Error: policy store down']);
    expect(sse.clientCount).toBe(0);
  });

  it('reports an authorize that throws a plain error on the hub and answers 500', async () => {
    await setup({
      authorize: () => {
        throw new Error('token service down');
      },
    });
    const errors: string[] = [];
    hub.on('error', (error, where) => errors.push(`${where}: ${String(error)}`));
    const refused = await fetch(`${server?.url}/`);
    expect(refused.status).toBe(500);
    expect((await refused.json()).error.code).toBe('handler_failed');
    expect(errors).toEqual(['sse-server authorize: Error: token service down']);
  });
});

describe('SSE stream (fetch handler)', () => {
  it('sets no Connection header: the runtime manages the connection, and HTTP/2 forbids it', async () => {
    hub = makeHub();
    sse = createSseEndpoint(hub, { keepAliveMs: 0 });
    const controller = new AbortController();
    const response = await sse.fetch(new Request('http://127.0.0.1/', { signal: controller.signal }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.has('connection')).toBe(false);
    controller.abort();
  });

  it('counts no address it was not given against maxClientsPerAddress', async () => {
    hub = makeHub();
    sse = createSseEndpoint(hub, { keepAliveMs: 0, maxClientsPerAddress: 1 });
    const controllers = [new AbortController(), new AbortController()];
    for (const controller of controllers) {
      const response = await sse.fetch(new Request('http://127.0.0.1/', { signal: controller.signal }));
      expect(response.status).toBe(200);
    }
    expect(sse.clientCount).toBe(2);
    const limited = await sse.fetch(new Request('http://127.0.0.1/'), { remoteAddress: '10.0.0.1' });
    expect(limited.status).toBe(200);
    const refused = await sse.fetch(new Request('http://127.0.0.1/'), { remoteAddress: '10.0.0.1' });
    expect(refused.status).toBe(503);
    for (const controller of controllers) controller.abort();
  });
});
