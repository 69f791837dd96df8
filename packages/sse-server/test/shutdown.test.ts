import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSseEndpoint, type DisconnectReason } from '../src/index.js';
import { makeHub, openStream, type StreamReader, waitFor } from './helpers.js';

const sockets: Socket[] = [];
const readers: StreamReader[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const reader of readers.splice(0)) reader.close();
});

describe('bounded shutdown', () => {
  it('close() ends reading streams, drops ones that stopped reading, and the HTTP server can close', async () => {
    const hub = makeHub(10);
    const sse = createSseEndpoint(hub, { closeTimeoutMs: 500, highWaterMark: 16 * 1024 * 1024 });
    const server = createServer((req, res) => sse.node(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };

    const reading = await Promise.all(Array.from({ length: 20 }, () => openStream(`http://127.0.0.1:${port}/`)));
    readers.push(...reading);
    for (let i = 0; i < 20; i++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      socket.pause(); // never reads: its backlog stays queued on the server
      sockets.push(socket);
    }
    await waitFor(() => sse.clientCount === 40, '40 streams');
    for (let i = 0; i < 100; i++) await hub.publish('blob', 'q'.repeat(64 * 1024));
    const reasons: DisconnectReason[] = [];
    sse.on('disconnect', (_client, reason) => reasons.push(reason));

    await sse.close();
    expect(sse.clientCount).toBe(0);
    expect(reasons.filter((r) => r === 'closed')).toHaveLength(40);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await waitFor(() => reading.every((r) => r.ended) && reading.length === 20, 'every reading stream ended');
    // Later requests are answered 503 `closed`, not left hanging.
    const late = await sse.fetch(new Request('http://127.0.0.1/'));
    expect(late.status).toBe(503);
    expect((await late.json()).error.code).toBe('closed');
    await hub.close();
  }, 60_000);
});
