/**
 * Promises of the SSE endpoint that no other test noticed being broken
 * (mutation testing, issue 28): the limits hold across an async `authorize`,
 * a request that died meanwhile never becomes a stream, and the shared
 * keep-alive timer stops when the last stream leaves.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { waitFor } from '../../../test-support/wait.js';
import { createSseEndpoint, type SseEndpoint } from '../src/index.js';
import { makeHub } from './helpers.js';

function gate() {
  let open!: (value: unknown) => void;
  const promise = new Promise((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function endpoint(options: Parameters<typeof createSseEndpoint>[1]): SseEndpoint {
  const hub = makeHub();
  const sse = createSseEndpoint(hub, options);
  cleanups.push(
    () => hub.close(),
    () => sse.close(),
  );
  return sse;
}

describe('capacity after an async authorize', () => {
  it('two requests that both passed the first check while authorize ran: the second is 503 too_many_clients', async () => {
    const gates = [gate(), gate()];
    let call = 0;
    const sse = endpoint({ maxClients: 1, authorize: () => gates[call++]!.promise });
    const first = sse.fetch(new Request('http://127.0.0.1/events'));
    const second = sse.fetch(new Request('http://127.0.0.1/events'));
    await waitFor(() => call === 2, 'both requests in authorize');
    gates[0]!.open({ user: 'a' });
    const opened = await first;
    expect(opened.status).toBe(200);
    gates[1]!.open({ user: 'b' });
    const refused = await second;
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { code: 'too_many_clients' } });
    expect(sse.clientCount).toBe(1);
    await opened.body?.cancel();
  });

  it('the per-address limit is checked again too', async () => {
    const gates = [gate(), gate()];
    let call = 0;
    const sse = endpoint({ maxClientsPerAddress: 1, authorize: () => gates[call++]!.promise });
    const peer = { remoteAddress: '192.0.2.7' };
    const first = sse.fetch(new Request('http://127.0.0.1/events'), peer);
    const second = sse.fetch(new Request('http://127.0.0.1/events'), peer);
    await waitFor(() => call === 2, 'both requests in authorize');
    gates[0]!.open(true);
    const opened = await first;
    gates[1]!.open(true);
    const refused = await second;
    expect([opened.status, refused.status]).toEqual([200, 503]);
    expect(sse.clientCount).toBe(1);
    await opened.body?.cancel();
  });
});

describe('capacity after an async authorize (node handler)', () => {
  it('the second of two requests that waited in authorize is 503 too_many_clients', async () => {
    const gates = [gate(), gate()];
    let call = 0;
    const sse = endpoint({ maxClients: 1, authorize: () => gates[call++]!.promise });
    const server = createServer(sse.node);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
    const controller = new AbortController();
    const first = fetch(url, { signal: controller.signal });
    const second = fetch(url, { signal: controller.signal });
    await waitFor(() => call === 2, 'both requests in authorize');
    gates[0]!.open(true);
    expect((await first).status).toBe(200);
    gates[1]!.open(true);
    const refused = await second;
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { code: 'too_many_clients' } });
    expect(sse.clientCount).toBe(1);
    controller.abort();
  });
});

describe('authorize runs only for a request that could become a stream', () => {
  it.each([
    ['node', 'maxClients', { maxClients: 1 }],
    ['fetch', 'maxClients', { maxClients: 1 }],
    ['node', 'maxClientsPerAddress', { maxClientsPerAddress: 1 }],
    ['fetch', 'maxClientsPerAddress', { maxClientsPerAddress: 1 }],
  ] as const)(
    '%s: a malformed request, and one over %s, are refused before authorize is asked',
    async (adapter, _, limit) => {
      const asked: string[] = [];
      const sse = endpoint({
        ...limit,
        authorize: (request) => {
          asked.push(request.url.search);
          return true;
        },
      });
      let get: (search: string) => Promise<{ status: number; close(): Promise<void> }>;
      if (adapter === 'fetch') {
        get = async (search) => {
          const response = await sse.fetch(new Request(`http://127.0.0.1/events${search}`), {
            remoteAddress: '192.0.2.7',
          });
          return { status: response.status, close: async () => void (await response.body?.cancel()) };
        };
      } else {
        const server = createServer(sse.node);
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        cleanups.push(() => new Promise((resolve) => server.close(resolve)));
        const { port } = server.address() as AddressInfo;
        get = async (search) => {
          const controller = new AbortController();
          const response = await fetch(`http://127.0.0.1:${port}/events${search}`, { signal: controller.signal });
          return { status: response.status, close: async () => controller.abort() };
        };
      }
      // A stream filter naming no event of the contract: 400 before any hook runs.
      expect((await get('?events=nope')).status).toBe(400);
      expect(asked).toEqual([]);
      const stream = await get('?first');
      expect(stream.status).toBe(200);
      // The one place is taken: 503 from the first capacity check, authorize never asked.
      expect((await get('?second')).status).toBe(503);
      expect(asked).toEqual(['?first']);
      await stream.close();
    },
  );
});

describe('a request that dies while authorize runs', () => {
  it('node: never becomes a stream (no connect event, no client)', async () => {
    const wait = gate();
    let authorizing = false;
    const sse = endpoint({
      authorize: () => {
        authorizing = true;
        return wait.promise;
      },
    });
    const connects: unknown[] = [];
    sse.on('connect', (client) => connects.push(client));
    const server = createServer(sse.node);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as AddressInfo;

    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    await waitFor(() => authorizing, 'authorize to run');
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.destroy();
    await closed;
    // Give the server side time to see the socket gone before authorize answers.
    await waitFor(async () => {
      const count = await new Promise<number>((resolve, reject) =>
        server.getConnections((error, n) => (error ? reject(error) : resolve(n))),
      );
      return count === 0;
    }, 'the server to see the socket closed');
    wait.open({ user: 'late' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(connects).toEqual([]);
    expect(sse.clientCount).toBe(0);
  });

  it('fetch: an aborted request is closed at once and counted out', async () => {
    const wait = gate();
    const sse = endpoint({ authorize: () => wait.promise });
    const disconnects: string[] = [];
    sse.on('disconnect', (_client, reason) => disconnects.push(reason));
    const controller = new AbortController();
    const response = sse.fetch(new Request('http://127.0.0.1/events', { signal: controller.signal }));
    controller.abort();
    wait.open(true);
    await response;
    expect(disconnects).toEqual(['client']);
    expect(sse.clientCount).toBe(0);
  });
});

describe('the shared keep-alive timer', () => {
  it('runs while a stream is open and stops when the last one leaves', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const sse = endpoint({ keepAliveMs: 1000 });
    expect(vi.getTimerCount()).toBe(0);
    const a = await sse.fetch(new Request('http://127.0.0.1/events'));
    const b = await sse.fetch(new Request('http://127.0.0.1/events'));
    expect(vi.getTimerCount()).toBe(1); // one timer for every stream
    await a.body?.cancel();
    await waitFor(() => sse.clientCount === 1, 'one stream left');
    expect(vi.getTimerCount()).toBe(1);
    await b.body?.cancel();
    await waitFor(() => sse.clientCount === 0, 'no stream left');
    expect(vi.getTimerCount()).toBe(0);
    // And it starts again with the next stream.
    const c = await sse.fetch(new Request('http://127.0.0.1/events'));
    expect(vi.getTimerCount()).toBe(1);
    await c.body?.cancel();
  });
});
