import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { encodeSseFrame, encodeSseKeepAlive, encodeSseRetry } from '@boardcast/core/wire';
import { afterEach, describe, expect, it } from 'vitest';
import { createSseEndpoint, type SseEndpointOptions } from '../src/index.js';
import { NodeConnection } from '../src/node-connection.js';
import { listen, makeHub, type TestServer, waitFor } from './helpers.js';

/**
 * A raw HTTP client over `net` that keeps every byte: it parses the status
 * line and headers of each response, then the body either as HTTP/1.1
 * chunks (each kept separately, so frame boundaries are visible) or, without
 * chunked encoding, as raw bytes until the socket ends.
 */
class RawClient {
  readonly socket: Socket;
  readonly responses: RawResponse[] = [];
  ended = false;
  #buffer = Buffer.alloc(0);

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (data: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, data]);
      this.#parse();
    });
    this.socket.on('end', () => {
      this.ended = true;
      const current = this.responses.at(-1);
      if (current && !current.chunked) current.complete = true;
    });
    this.socket.on('error', () => undefined);
  }

  send(request: string): void {
    this.socket.write(request);
  }

  get current(): RawResponse | undefined {
    return this.responses.at(-1);
  }

  #parse(): void {
    for (;;) {
      const current = this.responses.at(-1);
      if (!current || current.complete) {
        const end = this.#buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [statusLine = '', ...lines] = this.#buffer.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = headers['content-length'];
        const size = length === undefined ? 0 : Number(length);
        // Wait for the whole fixed-length body before taking the response.
        if (this.#buffer.length < end + 4 + size) return;
        const response: RawResponse = {
          status: Number(statusLine.split(' ')[1]),
          headers,
          chunked: headers['transfer-encoding'] === 'chunked',
          chunks: [],
          body: Buffer.from(this.#buffer.subarray(end + 4, end + 4 + size)),
          complete: length !== undefined,
        };
        this.#buffer = this.#buffer.subarray(end + 4 + size);
        this.responses.push(response);
        continue;
      }
      if (!current.chunked) {
        current.body = Buffer.concat([current.body, this.#buffer]);
        this.#buffer = Buffer.alloc(0);
        return;
      }
      const lineEnd = this.#buffer.indexOf('\r\n');
      if (lineEnd < 0) return;
      const size = Number.parseInt(this.#buffer.subarray(0, lineEnd).toString('latin1'), 16);
      if (this.#buffer.length < lineEnd + 2 + size + 2) return;
      const data = this.#buffer.subarray(lineEnd + 2, lineEnd + 2 + size);
      expect(this.#buffer.subarray(lineEnd + 2 + size, lineEnd + 4 + size).toString('latin1')).toBe('\r\n');
      this.#buffer = this.#buffer.subarray(lineEnd + 4 + size);
      if (size === 0) {
        current.complete = true;
      } else {
        current.chunks.push(Buffer.from(data));
        current.body = Buffer.concat([current.body, data]);
      }
    }
  }
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  chunked: boolean;
  /** Each HTTP chunk's data, in order. */
  chunks: Buffer[];
  body: Buffer;
  complete: boolean;
}

let server: TestServer | undefined;
let hub: ReturnType<typeof makeHub>;
let sse: ReturnType<typeof createSseEndpoint>;
const clients: RawClient[] = [];

type Middleware = (req: IncomingMessage, res: ServerResponse) => void;

/** `/events` is the stream, `/other` a plain keep-alive response (to prove the socket can be reused). */
async function setup(options: SseEndpointOptions = {}, wrap?: Middleware) {
  hub = makeHub(100);
  sse = createSseEndpoint(hub, { keepAliveMs: 0, ...options });
  server = await listen((req, res) => {
    if (req.url === '/other') {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' });
      res.end('ok');
      return;
    }
    wrap?.(req, res);
    sse.node(req, res);
  });
  return Number(new URL(server.url).port);
}

function client(port: number): RawClient {
  const raw = new RawClient(port);
  clients.push(raw);
  return raw;
}

afterEach(async () => {
  for (const raw of clients.splice(0)) raw.socket.destroy();
  sse?.close();
  await hub?.close();
  await server?.close();
  server = undefined;
});

function eventFrame(id: string, event: string, data: unknown): string {
  return encodeSseFrame({ id, event, data: JSON.stringify(data) });
}

describe('bytes on the wire (node adapter)', () => {
  it('HTTP/1.1: one chunk per frame, byte-exact, UTF-8 sized right; ending writes the terminator and the connection is reused', async () => {
    const port = await setup({ retry: 1500 });
    const raw = client(port);
    raw.send('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    await waitFor(() => (raw.current?.chunks.length ?? 0) === 2, 'retry and snapshot');
    expect(raw.current?.status).toBe(200);
    expect(raw.current?.headers['transfer-encoding']).toBe('chunked');
    expect(raw.current?.headers['content-type']).toBe('text/event-stream; charset=utf-8');

    const ids = [await hub.publish('time', 'grüße ✓ 🚀'), await hub.publish('led', { on: true })];
    await waitFor(() => raw.current?.chunks.length === 4, 'two events');
    const expected = [
      // retry and the keep-alive announcement leave as one chunk.
      encodeSseRetry(1500) + encodeSseKeepAlive(0),
      // Before any event the snapshot carries the bus's origin id (a resume point).
      `id: ${hub.bus.originId}\nevent: snapshot\ndata: {"led":{"on":false}}\n\n`,
      eventFrame(ids[0] as string, 'time', 'grüße ✓ 🚀'),
      eventFrame(ids[1] as string, 'led', { on: true }),
    ];
    expect(raw.current?.chunks.map((c) => c.toString('utf8'))).toEqual(expected);
    // The size line counts UTF-8 bytes, not UTF-16 code units.
    expect(raw.current?.chunks[2]?.length).toBe(Buffer.byteLength(expected[2] as string));

    // Ending the stream sends `0\r\n\r\n`; the same socket then serves another request.
    sse.close();
    await waitFor(() => raw.current?.complete === true, 'stream terminator');
    expect(raw.ended).toBe(false);
    raw.send('GET /other HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => raw.responses.length === 2 && raw.current?.complete === true, 'second response');
    expect(raw.current?.status).toBe(200);
    expect(raw.current?.body.toString()).toBe('ok');
  });

  it('keepalive frames and many clients share the same path and stay in order', async () => {
    const port = await setup({ keepAliveMs: 20 });
    const raws = [client(port), client(port), client(port)];
    for (const raw of raws) raw.send('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const keepAlive = encodeSseKeepAlive(20);
    await waitFor(() => raws.every((raw) => raw.current?.chunks.some((c) => c.toString() === keepAlive)), 'pings');
    const id = await hub.publish('time', 'x');
    await waitFor(() => raws.every((raw) => raw.current?.body.includes('"x"')), 'event');
    for (const raw of raws) {
      const frames = raw.current?.chunks.map((c) => c.toString()) ?? [];
      expect(frames[0]).toBe(encodeSseRetry(3000) + keepAlive);
      expect(frames[1]?.startsWith(`id: ${hub.bus.originId}\nevent: snapshot\n`)).toBe(true);
      // Every chunk is one whole frame: a keepalive or the event, never a mix.
      // The loop below must have something to check: the event at least.
      expect(frames.slice(2)).toContain(eventFrame(id, 'time', 'x'));
      for (const frame of frames.slice(2)) expect([keepAlive, eventFrame(id, 'time', 'x')]).toContain(frame);
    }
  });

  it('HTTP/1.0 (no chunked encoding) gets the plain stream and the connection closes at the end', async () => {
    const port = await setup({ retry: 100 });
    const raw = client(port);
    raw.send('GET /events HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => raw.current?.body.includes('event: snapshot') === true, 'snapshot');
    expect(raw.current?.headers['transfer-encoding']).toBeUndefined();
    const id = await hub.publish('time', 'ünïcode');
    await waitFor(() => raw.current?.body.includes('ünïcode') === true, 'event');
    sse.close();
    await waitFor(() => raw.ended, 'socket closed');
    expect(raw.current?.body.toString('utf8')).toBe(
      `${encodeSseRetry(100)}${encodeSseKeepAlive(0)}id: ${hub.bus.originId}\nevent: snapshot\ndata: {"led":{"on":false}}\n\n${eventFrame(id, 'time', 'ünïcode')}`,
    );
  });

  it('falls back to res.write when middleware wraps it (compression-like) and every byte passes the wrapper', async () => {
    const seen: string[] = [];
    const port = await setup({}, (_req, res) => {
      const write = res.write;
      // What compression() does: replace write on the instance.
      res.write = function wrapped(this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
        seen.push(String(chunk));
        return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      } as typeof res.write;
    });
    const raw = client(port);
    raw.send('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => (raw.current?.chunks.length ?? 0) === 2, 'retry and snapshot');
    const id = await hub.publish('time', 'wrapped');
    await waitFor(() => raw.current?.chunks.length === 3, 'event');
    const frames = raw.current?.chunks.map((c) => c.toString()) ?? [];
    expect(frames[2]).toBe(eventFrame(id, 'time', 'wrapped'));
    // The wrapper saw every frame the client got: nothing bypassed it.
    expect(seen).toEqual(frames);
    sse.close();
    await waitFor(() => raw.current?.complete === true, 'terminator');
    raw.send('GET /other HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => raw.responses.length === 2 && raw.current?.complete === true, 'connection reused');
    expect(raw.current?.body.toString()).toBe('ok');
  });

  it('a pipelined stream request (no socket of its own yet) falls back and still streams once the first reply is done', async () => {
    let release: (() => void) | undefined;
    hub = makeHub(100);
    sse = createSseEndpoint(hub, { keepAliveMs: 0 });
    server = await listen((req, res) => {
      if (req.url === '/slow') {
        release = () => res.end('ok');
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' });
        return;
      }
      sse.node(req, res);
    });
    const raw = client(Number(new URL(server.url).port));
    raw.send('GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => release !== undefined && sse.clientCount === 1, 'both requests handled');
    const early = await hub.publish('time', 'queued');
    release?.();
    await waitFor(() => raw.responses.length === 2 && (raw.current?.chunks.length ?? 0) === 3, 'stream after slow');
    const late = await hub.publish('time', 'live');
    await waitFor(() => raw.current?.chunks.length === 4, 'live event');
    expect(raw.responses[0]?.body.toString()).toBe('ok');
    expect(raw.current?.chunks.map((c) => c.toString()).slice(2)).toEqual([
      eventFrame(early, 'time', 'queued'),
      eventFrame(late, 'time', 'live'),
    ]);
  });
});

describe('NodeConnection path choice', () => {
  async function choice(request: string, wrap?: Middleware): Promise<boolean> {
    const seen = new Promise<boolean>((resolve) => {
      void listen((req, res) => {
        wrap?.(req, res);
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        const connection = new NodeConnection(req, res, { close: () => undefined });
        resolve(connection.direct);
        connection.end();
      }).then((s) => {
        server = s;
        client(Number(new URL(s.url).port)).send(request);
      });
    });
    const direct = await seen;
    await server?.close();
    server = undefined;
    return direct;
  }

  it('writes to the socket only for HTTP/1.1 chunked responses with the native res.write', async () => {
    expect(await choice('GET / HTTP/1.1\r\nHost: x\r\n\r\n')).toBe(true);
    expect(await choice('GET / HTTP/1.0\r\nHost: x\r\n\r\n')).toBe(false);
    expect(
      await choice('GET / HTTP/1.1\r\nHost: x\r\n\r\n', (_req, res) => {
        const write = res.write.bind(res);
        res.write = ((...args: Parameters<typeof write>) => write(...args)) as typeof res.write;
      }),
    ).toBe(false);
  });
});

describe('bytes on the wire (fetch adapter)', () => {
  it('streams the same frames as UTF-8 bytes', async () => {
    hub = makeHub(100);
    sse = createSseEndpoint(hub, { keepAliveMs: 0, retry: 700 });
    const controller = new AbortController();
    const response = await sse.fetch(new Request('http://localhost/events', { signal: controller.signal }));
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended early');
        text += decoder.decode(value, { stream: true });
      }
    };
    await readUntil('event: snapshot');
    const id = await hub.publish('time', 'fetch ✓');
    await readUntil('fetch ✓"\n\n');
    expect(text).toBe(
      `${encodeSseRetry(700)}${encodeSseKeepAlive(0)}id: ${hub.bus.originId}\nevent: snapshot\ndata: {"led":{"on":false}}\n\n${eventFrame(id, 'time', 'fetch ✓')}`,
    );
    controller.abort();
    await waitFor(() => sse.clientCount === 0, 'client gone');
  });
});
