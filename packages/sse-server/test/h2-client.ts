/**
 * An HTTP/2 client for the h2 tests (node:http2's server and the Fetch
 * handler behind @hono/node-server): event streams and POSTs as h2 streams of
 * one session, the per-file CA and per-test teardown, and the test both
 * servers must pass on a stream that stops reading.
 */
import { type ClientHttp2Session, type ClientHttp2Stream, connect } from 'node:http2';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { makeTestCa, type TestCa } from '../../../test-support/tls.js';
import { type BoardcastHttp, type BoardcastHttpOptions, boardcastHttp } from '../src/index.js';
import { makeHub, waitFor } from './helpers.js';

export interface H2Reader {
  readonly stream: ClientHttp2Stream;
  readonly messages: EventSourceMessage[];
  status: number;
  ended: boolean;
}

/** An event stream on `session`, parsed with eventsource-parser. */
export function openH2Stream(session: ClientHttp2Session, path: string): H2Reader {
  const stream = session.request({ ':path': path, accept: 'text/event-stream' });
  const reader: H2Reader = { stream, messages: [], status: 0, ended: false };
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

/** A JSON POST on `session`: its status and body. */
export function h2Post(
  session: ClientHttp2Session,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
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

/** The status of a GET of `path` with `:authority` set to `authority`. */
export async function h2StatusFor(session: ClientHttp2Session, path: string, authority: string): Promise<number> {
  const stream = session.request({ ':path': path, ':authority': authority });
  const status = await new Promise<number>((resolve) => stream.on('response', (h) => resolve(Number(h[':status']))));
  stream.close();
  return status;
}

/**
 * With `highWaterMark: 64 KiB, slowClient: 'disconnect'` set up: a stream
 * that stops reading is cut alone (`slow`), the other on the same session
 * gets every blob in order and later events, and the session stays up.
 * `perStep` blobs are published before waiting for the reading stream.
 */
export async function slowStreamIsCutAlone(
  session: ClientHttp2Session,
  hub: ReturnType<typeof makeHub>,
  api: BoardcastHttp | undefined,
  perStep: number,
): Promise<void> {
  const fast = openH2Stream(session, '/api/events');
  const slow = openH2Stream(session, '/api/events');
  await waitFor(() => fast.messages.length >= 2 && slow.messages.length >= 2, 'both snapshots');
  // Stop reading one stream: its flow-control window closes, data piles up on the server for it alone.
  slow.stream.pause();
  const disconnects: string[] = [];
  api?.sse.on('disconnect', (_client, reason) => disconnects.push(reason));
  const blob = 'x'.repeat(16 * 1024);
  let sent = 0;
  // Publish in steps so the reading stream keeps up; stop once the slow one is cut.
  while (!disconnects.includes('slow') && sent < 400) {
    for (let i = 0; i < perStep; i++) hub.publish('blob', `${sent++}:${blob}`);
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
  expect(session.destroyed).toBe(false);
  hub.publish('time', 'after');
  await waitFor(() => fast.messages.some((m) => m.event === 'time'), 'an event after the cut');
}

/** What one test got from `setup`: the hub, its `boardcastHttp`, an h2 session to it, and its origin. */
export interface H2Env {
  readonly hub: ReturnType<typeof makeHub>;
  readonly api: BoardcastHttp;
  readonly session: ClientHttp2Session;
  readonly origin: string;
}

/**
 * For a test file: a throw-away CA for the file, and a `setup` that serves
 * `boardcastHttp(hub, { base: '/api', ...options })` through `listen` (the
 * server under test, on TLS with the CA's certificate) and connects an h2
 * session; everything is closed after each test.
 */
export function h2Suite(
  listen: (ca: TestCa, api: BoardcastHttp) => Promise<{ port: number; close(): Promise<void> }>,
): (options?: BoardcastHttpOptions, history?: number) => Promise<H2Env> {
  let ca: TestCa | undefined;
  let current: (H2Env & { close(): Promise<void> }) | undefined;
  beforeAll(() => {
    ca = makeTestCa(['localhost', '127.0.0.1']);
  });
  afterAll(() => ca?.remove());
  afterEach(async () => {
    const env = current;
    current = undefined;
    if (!env) return;
    env.session.destroy();
    await env.api.close();
    await env.hub.close();
    await env.close();
  });
  return async (options = {}, history = 100) => {
    const authority = ca as TestCa;
    const hub = makeHub(history);
    const api = boardcastHttp(hub, { base: '/api', ...options });
    const server = await listen(authority, api);
    const origin = `https://localhost:${server.port}`;
    current = { hub, api, origin, session: connect(origin, { ca: authority.caCert }), close: server.close };
    return current;
  };
}
