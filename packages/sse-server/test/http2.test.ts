import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  createSecureServer,
  type Http2SecureServer,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasOpenssl, makeTestCa, type TestCa } from '../../../test-support/tls.js';
import { type BoardcastHttp, type BoardcastHttpOptions, boardcastHttp } from '../src/index.js';
import { makeHub, waitFor } from './helpers.js';

let ca: TestCa;
let server: Http2SecureServer | undefined;
let session: ClientHttp2Session | undefined;
let api: BoardcastHttp | undefined;
let hub: ReturnType<typeof makeHub>;

/**
 * sse-server on node:http2's compatibility API (`createSecureServer(handler)`):
 * the same `api.node` handler, many streams on one TLS connection.
 */
async function setup(options: BoardcastHttpOptions = {}, history = 100) {
  hub = makeHub(history);
  const made = boardcastHttp(hub, { base: '/api', ...options });
  api = made;
  // No cast: `node` takes node:http2's compatibility request and response (NodeRequest, NodeResponse).
  server = createSecureServer({ key: ca.key, cert: ca.cert }, (req, res) => made.node(req, res));
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
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

function post(path: string, body: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const stream = (session as ClientHttp2Session).request({
      ':path': path,
      ':method': 'POST',
      'content-type': 'application/json',
      ...headers,
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
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = session = api = undefined;
});

describe.skipIf(!hasOpenssl())('HTTP/2 (node:http2 secure server)', () => {
  it('streams snapshot and events and runs commands over one session; Host comes from :authority', async () => {
    const origin = await setup();
    const a = openStream('/api/events');
    const b = openStream('/api/events');
    await waitFor(() => a.messages.length >= 2 && b.messages.length >= 2, 'both snapshots');
    expect(a.status).toBe(200);
    expect(a.messages.map((m) => m.event)).toEqual(['keepalive', 'snapshot']);
    // Browsers send Origin on a POST; same-host must match the :authority.
    const result = await post('/api/commands/led', '{"state":"on"}', { origin });
    expect(result).toEqual({ status: 200, body: '{"on":true}' });
    await waitFor(() => b.messages.some((m) => m.event === 'led'), 'led event on the second stream');
    expect(api?.sse.clientCount).toBe(2);
    a.stream.close();
    await waitFor(() => api?.sse.clientCount === 1, 'one stream closed alone');
    expect(b.ended).toBe(false);
  });

  it('refuses a foreign :authority with forbidden_host, as over HTTP/1.1', async () => {
    const origin = await setup();
    const reader = openStream('/api/events');
    await waitFor(() => reader.status !== 0, 'an answer');
    expect(reader.status).toBe(200);
    const port = new URL(origin).port;
    const stream = (session as ClientHttp2Session).request({
      ':path': '/api/events',
      ':authority': `rebind.example:${port}`,
    });
    const status = await new Promise<number>((resolve) => stream.on('response', (h) => resolve(Number(h[':status']))));
    stream.close();
    expect(status).toBe(403);
  });

  it('bounds buffered bytes per h2 stream: a stream that stops reading is cut alone, the others on the session keep flowing', async () => {
    await setup({ sse: { highWaterMark: 64 * 1024, slowClient: 'disconnect' } }, 10);
    const fast = openStream('/api/events');
    const slow = openStream('/api/events');
    await waitFor(() => fast.messages.length >= 2 && slow.messages.length >= 2, 'both snapshots');
    // Stop reading one stream: its flow-control window closes, data piles up on the server for it alone.
    slow.stream.pause();
    const disconnects: string[] = [];
    api?.sse.on('disconnect', (_client, reason) => disconnects.push(reason));
    const blob = 'x'.repeat(16 * 1024);
    let sent = 0;
    // Publish in steps so the reading stream keeps up; stop once the slow one is cut.
    while (!disconnects.includes('slow') && sent < 400) {
      for (let i = 0; i < 8; i++) hub.publish('blob', `${sent++}:${blob}`);
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
    // The session and the reading stream are untouched: every event, in order.
    const blobs = fast.messages.filter((m) => m.event === 'blob').map((m) => Number(m.data.slice(1).split(':')[0]));
    expect(blobs).toEqual([...Array(sent).keys()]);
    expect(fast.ended).toBe(false);
    expect(session?.destroyed).toBe(false);
    hub.publish('time', 'after');
    await waitFor(() => fast.messages.some((m) => m.event === 'time'), 'an event after the cut');
  });

  it('reset mode: the slow h2 stream gets reset + snapshot once it reads again', async () => {
    await setup({ sse: { highWaterMark: 64 * 1024 } }, 10);
    const slow = openStream('/api/events');
    await waitFor(() => slow.messages.length >= 2, 'snapshot');
    slow.stream.pause();
    const blob = 'y'.repeat(16 * 1024);
    await waitFor(
      () => {
        for (let i = 0; i < 8; i++) hub.publish('blob', blob);
        return (api?.sse.clients()[0]?.resets ?? 0) > 0 || (api?.sse.clients()[0]?.bufferedBytes ?? 0) > 64 * 1024;
      },
      'the stream falls behind',
      20_000,
    );
    slow.stream.resume();
    const index = (event: string, from = 0) => slow.messages.findIndex((m, i) => i >= from && m.event === event);
    await waitFor(
      () => index('reset') >= 0 && index('snapshot', index('reset')) >= 0,
      'reset, then a fresh snapshot',
      20_000,
    );
    expect(JSON.parse(slow.messages[index('reset')]?.data ?? '{}')).toEqual({ reason: 'slow' });
    expect(api?.sse.clients()[0]?.resets).toBe(1);
  });
});
