/**
 * trustProxy on the board link (core's meaning, as in every endpoint):
 * 127.0.0.1 plays the reverse proxy, sockets bound to 127.0.0.2 a peer that
 * is not one. Real sockets, the real `ws` client.
 */
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { attachBoardLink, BOARD_PROTOCOL, type BoardLink } from '../src/index.js';
import type { BoardRejection } from '../src/remote/board-link.js';
import { closeServer, listen, newServer } from './helpers.js';

const TOKEN = 'proxy-token';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function rig(): Promise<{ server: Server; link: BoardLink; port: number; rejections: BoardRejection[] }> {
  const server = newServer();
  const link = attachBoardLink(server, {
    token: TOKEN,
    trustProxy: ['127.0.0.1'],
    maxClientsPerAddress: 1,
    allowedHosts: ['boards.example.com'],
  });
  const port = await listen(server);
  const rejections: BoardRejection[] = [];
  link.on('reject', (r) => rejections.push(r));
  cleanups.push(async () => {
    await link.close();
    await closeServer(server);
  });
  return { server, link, port, rejections };
}

/** Open a board socket; resolves 'open' or the refusal's HTTP status. */
function dial(port: number, headers: Record<string, string>, localAddress?: string): Promise<'open' | number> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/board`, BOARD_PROTOCOL, {
    headers: { authorization: `Bearer ${TOKEN}`, ...headers },
    localAddress,
  });
  ws.on('error', () => undefined);
  cleanups.push(() => ws.terminate());
  return new Promise((resolve) => {
    ws.once('open', () => resolve('open'));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
  });
}

describe('board link behind a reverse proxy', () => {
  it('counts the forwarded client per address and reports it; a spoofed header from a non-proxy is ignored', async () => {
    const { port, rejections } = await rig();
    expect(await dial(port, { 'X-Forwarded-For': '198.51.100.1' })).toBe('open');
    expect(await dial(port, { 'X-Forwarded-For': '198.51.100.2' })).toBe('open');
    expect(await dial(port, { 'X-Forwarded-For': '198.51.100.1' })).toBe(503);
    expect(rejections.at(-1)?.remoteAddress).toBe('198.51.100.1');
    expect(await dial(port, { 'X-Forwarded-For': '203.0.113.1' }, '127.0.0.2')).toBe('open');
    expect(await dial(port, { 'X-Forwarded-For': '203.0.113.2' }, '127.0.0.2')).toBe(503);
    expect(rejections.at(-1)?.remoteAddress).toBe('127.0.0.2');
  });

  it('checks the forwarded host behind the proxy, the Host header otherwise', async () => {
    const { port } = await rig();
    expect(await dial(port, { 'X-Forwarded-For': '198.51.100.9', 'X-Forwarded-Host': 'rebind.example' })).toBe(403);
    expect(await dial(port, { 'X-Forwarded-For': '198.51.100.9', 'X-Forwarded-Host': 'boards.example.com' })).toBe(
      'open',
    );
    expect(await dial(port, { 'X-Forwarded-Host': 'rebind.example' }, '127.0.0.2')).toBe('open');
  });
});
