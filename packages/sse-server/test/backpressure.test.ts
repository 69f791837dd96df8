import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { endAll } from '../../../test-support/end-all.js';
import { createSseEndpoint, type SseClientInfo, type SseEndpointOptions } from '../src/index.js';
import { listen, makeHub, openStream, type StreamReader, type TestServer, waitFor } from './helpers.js';

let server: TestServer | undefined;
let hub: ReturnType<typeof makeHub>;
let sse: ReturnType<typeof createSseEndpoint>;
const readers: StreamReader[] = [];
const sockets: Socket[] = [];

const HWM = 64 * 1024;
const BLOB = 'x'.repeat(16 * 1024);

async function setup(options: SseEndpointOptions) {
  hub = makeHub(10);
  sse = createSseEndpoint(hub, { highWaterMark: HWM, ...options });
  server = await listen(sse.node);
}

/** A raw HTTP client that sends a request and then reads nothing. */
async function stalledClient(): Promise<{ socket: Socket; client: SseClientInfo }> {
  const before = new Set(sse.clients().map((c) => c.id));
  const { port } = new URL(server?.url ?? '');
  const socket = connect(Number(port), '127.0.0.1');
  sockets.push(socket);
  // Paused mode with no 'data' listener: the kernel buffers fill and stay full.
  socket.pause();
  socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
  let client: SseClientInfo | undefined;
  await waitFor(() => {
    client = sse.clients().find((c) => !before.has(c.id));
    return client !== undefined;
  }, 'stalled client connected');
  return { socket, client: client as SseClientInfo };
}

async function caughtUp(reader: StreamReader, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (reader.messages.length < count) {
    if (reader.ended || Date.now() > deadline) throw new Error('the normal client fell behind');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

afterEach(async () => {
  await endAll(...readers.splice(0), ...sockets.splice(0), sse, hub, server);
  server = undefined;
});

describe('backpressure', () => {
  it('drops a client that stops reading while a normal client keeps receiving everything, with its buffer bounded', async () => {
    await setup({ slowClient: 'disconnect' });
    const reader = await openStream(`${server?.url}/`);
    readers.push(reader);
    const { client: slow } = await stalledClient();
    const dropped = new Promise<string>((resolve) =>
      sse.on('disconnect', (client, reason) => client.id === slow.id && resolve(reason)),
    );
    let gone = false;
    dropped.then(() => {
      gone = true;
    });

    let published = 0;
    // Loopback kernel buffers can hold megabytes; keep publishing until they
    // are full and the server-side buffer passes the mark (bounded loop).
    while (!gone && published < 5000) {
      await hub.publish('blob', BLOB);
      published++;
      // The normal client reads as fast as it can (it lives in this process, so let it).
      await caughtUp(reader, published + 1);
    }
    expect(await dropped).toBe('slow');
    expect(slow.peakBufferedBytes).toBeGreaterThan(HWM);
    // Memory held for the slow client never exceeded the mark plus one frame.
    expect(slow.peakBufferedBytes).toBeLessThanOrEqual(HWM + BLOB.length + 256);

    await hub.publish('time', 'after');
    await waitFor(() => reader.messages.length === published + 2, 'normal client got every event', 15_000);
    expect(reader.messages.filter((m) => m.event === 'blob')).toHaveLength(published);
    expect(reader.messages.at(-1)?.data).toBe('"after"');
    expect(sse.clientCount).toBe(1);
  }, 60_000);

  it("with slowClient: 'reset', skips a stalled client and sends reset then a fresh snapshot once it reads again", async () => {
    await setup({ slowClient: 'reset' });
    const reader = await openStream(`${server?.url}/`);
    readers.push(reader);
    const { socket, client: slow } = await stalledClient();
    let published = 0;
    while (slow.peakBufferedBytes <= HWM && published < 5000) {
      await hub.publish('blob', BLOB);
      published++;
      // The normal client reads as fast as it can (it lives in this process, so let it).
      await caughtUp(reader, published + 1);
    }
    expect(slow.peakBufferedBytes).toBeGreaterThan(HWM);
    // While stalled it costs nothing more: further events are skipped.
    const held = slow.bufferedBytes;
    for (let i = 0; i < 20; i++) {
      await hub.publish('blob', BLOB);
      published++;
      await caughtUp(reader, published + 1);
    }
    expect(slow.bufferedBytes).toBeLessThanOrEqual(held);
    expect(sse.clientCount).toBe(2);

    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      // Keep only the tail: the backlog is large and we look for what follows it.
      text = (text + chunk).slice(-4096);
    });
    socket.resume();
    await waitFor(() => /event: reset\ndata: \{"reason":"slow"\}\n\n/.test(text), 'reset after drain', 15_000);
    await waitFor(() => text.includes('event: snapshot'), 'fresh snapshot');
    expect(text.indexOf('event: snapshot')).toBeGreaterThan(text.indexOf('event: reset'));
    expect(slow.resets).toBe(1);
    await hub.publish('time', 'live again');
    await waitFor(() => text.includes('data: "live again"'), 'live events after the reset');

    await waitFor(() => reader.messages.length === published + 2, 'normal client got every event', 15_000);
    expect(reader.messages.some((m) => m.event === 'reset')).toBe(false);
  }, 60_000);
});
