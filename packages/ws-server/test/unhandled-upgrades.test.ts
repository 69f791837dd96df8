import { readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { registerUpgrade, upgradeRegistry } from '@boardcast/core/server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer } from 'ws';
import { createWsEndpoint } from '../src/index.js';
import { closeAll, listen, makeHub, setup, TestClient, waitFor } from './helpers.js';

afterEach(closeAll);

const openDescriptors = () => readdirSync('/proc/self/fd').length;

/** A raw upgrade request; resolves with what the server answered once it closed the connection. */
function rawUpgrade(port: number, path: string, extra = ''): { socket: Socket; answer: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  socket.on('error', () => undefined);
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`,
  );
  const answer = new Promise<string>((resolve) => socket.on('close', () => resolve(text)));
  return { socket, answer };
}

function connections(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((error, n) => (error ? reject(error) : resolve(n))));
}

describe('upgrades nobody handles', () => {
  it('answers 2,000 upgrades to unknown paths with 404 not_found and closes them: no descriptor left, still serving', async () => {
    const { port, url, server } = await setup();
    const before = openDescriptors();
    const statuses = new Map<string, number>();
    for (let batch = 0; batch < 20; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) => rawUpgrade(port, `/nope/${batch}-${i}`).answer),
      );
      for (const answer of answers) {
        const line = answer.split('\r\n')[0] ?? '';
        statuses.set(line, (statuses.get(line) ?? 0) + 1);
        expect(answer).toContain('"code":"not_found"');
      }
    }
    expect([...statuses]).toEqual([['HTTP/1.1 404 Not Found', 2000]]);
    expect(upgradeRegistry(server).refused).toBe(2000);
    await waitFor(async () => (await connections(server)) === 0, 'every connection closed');
    // Both ends of every connection live in this process: all of them are gone.
    await waitFor(() => openDescriptors() <= before + 2, `descriptors back to ${before}`);

    const client = await TestClient.open(url);
    await client.next((f) => f.type === 'snapshot');
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('page');
  }, 60_000);

  it('leaves unknown paths to another upgrade listener, but answers them if it leaves them untouched', async () => {
    const hub = makeHub();
    const server = createServer();
    createWsEndpoint(hub, { server, path: '/live' });
    const other = new WebSocketServer({ noServer: true });
    // Someone else's listener: it takes /board and ignores everything else.
    server.on('upgrade', (request, socket, head) => {
      if (request.url === '/board') other.handleUpgrade(request, socket, head, (ws) => ws.send('board link'));
    });
    upgradeRegistry(server).unhandledTimeoutMs = 200;
    const port = await listen(server);
    const board = new TestClient(`ws://127.0.0.1:${port}/board`, { protocols: 'boardcast-board.v1' });
    expect((await board.next((f) => f.type === 'not-json')).text).toBe('board link');
    const ignored = rawUpgrade(port, '/nobody');
    expect(await ignored.answer).toMatch(/^HTTP\/1\.1 404 Not Found\r\n[\s\S]*"not_found"/);
    await waitFor(() => upgradeRegistry(server).watching === 0, 'every watch over');
    // The handled one was written to by its owner, so it was left alone.
    expect(board.ws.readyState).toBe(board.ws.OPEN);
    board.ws.close();
    other.close();
  });

  it('answers 500 when a registered route throws, and the server keeps serving', async () => {
    const { port, url, server } = await setup();
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const off = registerUpgrade(server, {
      path: '/boom',
      handle: () => {
        throw new Error('route bug');
      },
    });
    expect(await rawUpgrade(port, '/boom').answer).toMatch(/^HTTP\/1\.1 500 [\s\S]*"handler_failed"/);
    expect(log).toHaveBeenCalledTimes(1);
    log.mockRestore();
    off();
    await (await TestClient.open(url)).next((f) => f.type === 'snapshot');
  });

  it('two endpoints on one server each get their own path; a second one on the same path is refused', async () => {
    const hub = makeHub();
    const server = createServer();
    const a = createWsEndpoint(hub, { server, path: '/a' });
    const b = createWsEndpoint(hub, { server, path: '/b' });
    expect(() => createWsEndpoint(hub, { server, path: '/a' })).toThrow(TypeError);
    const port = await listen(server);
    await (await TestClient.open(`ws://127.0.0.1:${port}/a`)).next((f) => f.type === 'snapshot');
    await (await TestClient.open(`ws://127.0.0.1:${port}/b`)).next((f) => f.type === 'snapshot');
    expect([a.clientCount, b.clientCount]).toEqual([1, 1]);
    await a.close();
    await b.close();
    // With no route left the registry stops listening: nothing of ours stays on the server.
    expect(server.listenerCount('upgrade')).toBe(0);
  });
});

describe('bounded shutdown', () => {
  it('endpoint and HTTP server close with a stuck client, an upgrade stuck in authorize and an unanswered foreign upgrade', async () => {
    const hub = makeHub();
    const server = createServer((_req, res) => res.end('page'));
    const endpoint = createWsEndpoint(hub, {
      server,
      closeTimeoutMs: 300,
      // Never settles for the second client.
      authorize: (request) => (request.url.searchParams.has('hang') ? new Promise(() => undefined) : true),
    });
    // Someone else's listener that never answers. The registry's own timer is
    // 10 s; closing the last endpoint answers the untouched upgrade at once.
    server.on('upgrade', () => undefined);
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };

    const stuck = await TestClient.open(`ws://127.0.0.1:${port}/ws`);
    await stuck.next((f) => f.type === 'snapshot');
    (stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const hanging = rawUpgrade(port, '/ws?hang=1', `Sec-WebSocket-Protocol: boardcast.v1\r\n`);
    const foreign = rawUpgrade(port, '/elsewhere');
    await waitFor(() => upgradeRegistry(server).watching === 1, 'the foreign upgrade waiting');

    await endpoint.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(await hanging.answer).toMatch(/^HTTP\/1\.1 503 [\s\S]*"closed"/);
    expect(await foreign.answer).toMatch(/^HTTP\/1\.1 404 /);
    expect(endpoint.clientCount).toBe(0);
  }, 30_000);
});
