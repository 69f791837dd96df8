import { type ClientHttp2Session, type ClientHttp2Stream, connect, createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasOpenssl, makeTestCa, type TestCa } from '../../../test-support/tls.js';
import { type BoardcastHttp, type BoardcastHttpOptions, boardcastHttp } from '../src/index.js';
import { makeHub, waitFor } from './helpers.js';

/**
 * sse-server's Fetch handler (`api.fetch`) on a Fetch-based server that
 * speaks HTTP/2: `@hono/node-server`'s `serve()` with node:http2's
 * `createSecureServer` (what the README's HTTP/2 section shows). Each
 * `Response` is its own h2 stream: many share one TLS session, and the
 * Fetch adapter's byte-counted queue bounds each stream alone.
 */
let ca: TestCa;
let close: (() => Promise<void>) | undefined;
let session: ClientHttp2Session | undefined;
let api: BoardcastHttp | undefined;
let hub: ReturnType<typeof makeHub>;

async function setup(options: BoardcastHttpOptions = {}, history = 100) {
  hub = makeHub(history);
  const made = boardcastHttp(hub, { base: '/api', ...options });
  api = made;
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      {
        fetch: (request, env) =>
          made.fetch(request, {
            remoteAddress: (env as { incoming: { socket: { remoteAddress?: string } } }).incoming.socket.remoteAddress,
          }),
        createServer: createSecureServer,
        serverOptions: { key: ca.key, cert: ca.cert },
        port: 0,
        hostname: '127.0.0.1',
      },
      () => resolve(s),
    );
  });
  close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  const origin = `https://localhost:${(server.address() as AddressInfo).port}`;
  session = connect(origin, { ca: ca.caCert });
  return origin;
}

interface Reader {
  readonly stream: ClientHttp2Stream;
  readonly messages: EventSourceMessage[];
  status: number;
  ended: boolean;
}

function openStream(path: string): Reader {
  const stream = (session as ClientHttp2Session).request({ ':path': path, accept: 'text/event-stream' });
  const reader: Reader = { stream, messages: [], status: 0, ended: false };
  const parser = createParser({ onEvent: (m) => reader.messages.push(m) });
  stream.setEncoding('utf8');
  stream.on('response', (headers) => {
    reader.status = Number(headers[':status']);
  });
  stream.on('data', (chunk: string) => parser.feed(chunk));
  stream.on('close', () => {
    reader.ended = true;
  });
  stream.on('error', () => undefined);
  return reader;
}

function command(name: string, body: string, origin: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const stream = (session as ClientHttp2Session).request({
      ':path': `/api/commands/${name}`,
      ':method': 'POST',
      'content-type': 'application/json',
      origin,
    });
    let text = '';
    let status = 0;
    stream.setEncoding('utf8');
    stream.on('response', (h) => {
      status = Number(h[':status']);
    });
    stream.on('data', (chunk: string) => {
      text += chunk;
    });
    stream.on('end', () => resolve({ status, body: text }));
    stream.on('error', reject);
    stream.end(body);
  });
}

beforeAll(() => {
  ca = makeTestCa(['localhost', '127.0.0.1']);
});
afterAll(() => ca?.remove());

afterEach(async () => {
  session?.destroy();
  await api?.close();
  await hub?.close();
  await close?.();
  close = session = api = undefined;
});

describe.skipIf(!hasOpenssl())('HTTP/2 through the Fetch handler (@hono/node-server on node:http2)', () => {
  it('serves many event streams and a command over one h2 session', async () => {
    const origin = await setup();
    const readers = Array.from({ length: 8 }, () => openStream('/api/events'));
    await waitFor(() => readers.every((r) => r.messages.some((m) => m.event === 'snapshot')), 'every snapshot');
    expect(readers.every((r) => r.status === 200)).toBe(true);
    expect(api?.sse.clients().map((c) => c.adapter)).toEqual(Array(8).fill('fetch'));
    expect(api?.sse.clients()[0]?.remoteAddress).toBe('127.0.0.1');
    // Same-host check: the Request's URL is built from :authority.
    expect(await command('led', '{"state":"on"}', origin)).toEqual({ status: 200, body: '{"on":true}' });
    await waitFor(() => readers.every((r) => r.messages.some((m) => m.event === 'led')), 'led on every stream');
    // One TLS session carried all of it.
    expect(session?.destroyed).toBe(false);
    readers[0]?.stream.close();
    await waitFor(() => api?.sse.clientCount === 7, 'one stream closed alone');
    expect(readers.slice(1).every((r) => !r.ended)).toBe(true);
    hub.publish('time', 'after');
    await waitFor(() => readers.slice(1).every((r) => r.messages.some((m) => m.event === 'time')), 'later events');
  });

  it('refuses a foreign :authority with forbidden_host', async () => {
    const origin = await setup();
    const stream = (session as ClientHttp2Session).request({
      ':path': '/api/events',
      ':authority': `rebind.example:${new URL(origin).port}`,
    });
    const status = await new Promise<number>((resolve) => stream.on('response', (h) => resolve(Number(h[':status']))));
    stream.close();
    expect(status).toBe(403);
  });

  it('bounds buffered bytes per h2 stream: a stream that stops reading is cut alone, the others keep flowing', async () => {
    await setup({ sse: { highWaterMark: 64 * 1024, slowClient: 'disconnect' } }, 10);
    const fast = openStream('/api/events');
    const slow = openStream('/api/events');
    await waitFor(() => fast.messages.length >= 2 && slow.messages.length >= 2, 'both snapshots');
    slow.stream.pause();
    const disconnects: string[] = [];
    api?.sse.on('disconnect', (_client, reason) => disconnects.push(reason));
    const blob = 'x'.repeat(16 * 1024);
    let sent = 0;
    // Two blobs a step: the Fetch adapter counts a burst in one turn too (unlike node's
    // res.write), so a step stays under highWaterMark and the reading stream keeps up.
    while (!disconnects.includes('slow') && sent < 400) {
      for (let i = 0; i < 2; i++) hub.publish('blob', `${sent++}:${blob}`);
      const target = sent;
      await waitFor(
        () => fast.messages.filter((m) => m.event === 'blob').length >= target,
        `reader at ${target}`,
        20_000,
      );
    }
    expect(disconnects).toEqual(['slow']);
    expect(api?.sse.clientCount).toBe(1);
    const peak = Math.max(...(api?.sse.clients() ?? []).map((c) => c.peakBufferedBytes), 0);
    expect(peak).toBeLessThan(64 * 1024 + 2 * blob.length + 1024);
    const blobs = fast.messages.filter((m) => m.event === 'blob').map((m) => Number(m.data.slice(1).split(':')[0]));
    expect(blobs).toEqual([...Array(sent).keys()]);
    expect(fast.ended).toBe(false);
    expect(session?.destroyed).toBe(false);
    hub.publish('time', 'after');
    await waitFor(() => fast.messages.some((m) => m.event === 'time'), 'an event after the cut');
  });
});
