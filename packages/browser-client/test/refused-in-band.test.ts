// A refusal told inside the socket (ws-server does that for a browser: an
// `Origin` and boardcast.v1) is not a connection: the client never shows
// `open` for it, and a command waiting in the offline queue stays queued —
// the server never reads a refused socket — until a socket is taken.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { encodeWsSnapshot, WS_PROTOCOL } from '@boardcast/core/wire';
import { afterEach, describe, expect, it } from 'vitest';
import { type ClientOptions, WebSocket, WebSocketServer } from 'ws';
import { connectChannels } from '../src/channels.js';
import { connect, type WebSocketClass } from '../src/index.js';
import { cleanups, contract, makeHub, runCleanups, serve, startHub, until } from './helpers.js';

afterEach(runCleanups);

/** The `ws` package sending an Origin as a page would: the server then refuses inside the socket. */
function browserLike(origin: string): WebSocketClass {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[], options?: ClientOptions) {
      super(url, protocols, { ...options, origin });
    }
  } as unknown as WebSocketClass;
}

/** A WS client of `kind` on the default channel, retrying fast; closed after the test. */
function connectKind(
  kind: 'single stream' | 'channels',
  url: string,
  options: { WebSocket: WebSocketClass; keepAliveMs?: number },
) {
  const all = { transport: 'ws', ...options, reconnect: { initialDelayMs: 50, maxDelayMs: 100 } } as const;
  const client =
    kind === 'single stream'
      ? connect(url, contract, all)
      : connectChannels(url, contract, { ...all, channels: ['default'] });
  cleanups.push(() => client.close());
  return client;
}

describe.each(['single stream', 'channels'] as const)('%s over WS, refused inside the socket', (kind) => {
  it('shows no open, keeps a queued command queued, and runs it once a place frees up', async () => {
    const hub = makeHub();
    let runs = 0;
    hub.on('command', (log) => {
      if (log.command === 'led') runs += 1;
    });
    const server = await serve(hub, { ws: { maxClients: 1, allowedOrigins: '*' } });
    cleanups.push(
      () => server.kill(),
      () => hub.close(),
    );
    // The one place, taken by a device.
    const device = new WebSocket(`ws://127.0.0.1:${server.port}/api/ws`, WS_PROTOCOL);
    await new Promise((resolve, reject) => {
      device.once('open', resolve);
      device.once('error', reject);
    });
    const client = connectKind(kind, server.url, { WebSocket: browserLike(`http://127.0.0.1:${server.port}`) });
    const statuses: string[] = [];
    const errors: string[] = [];
    client.onStatus((s) => statuses.push(s.status));
    client.on('error', (e) => errors.push(e.code));
    // Issued while the server refuses: it waits in the offline queue.
    const command = client.command('led', { state: 'on' }, { timeout: 20_000 });
    await until(() => errors.length >= 3, 10_000, 'three refusals');
    expect(new Set(errors)).toEqual(new Set(['too_many_clients']));
    expect(statuses).not.toContain('open');
    expect(hub.state.led.on).toBe(false);
    device.close();
    // The place frees up: the client connects and the queued command runs, once.
    expect(await command).toEqual({ on: true });
    expect(statuses.at(-1)).toBe('open');
    expect(hub.state.led.on).toBe(true);
    expect(runs).toBe(1);
  });
});

describe.each(['single stream', 'channels'] as const)('%s over WS, resumed with nothing missed', (kind) => {
  it('is open within a round trip and sends its queue, even with keep-alive off (the server sends nothing else)', async () => {
    const { server } = await startHub();
    const client = connectKind(kind, server.url, { WebSocket: WebSocket as unknown as WebSocketClass, keepAliveMs: 0 });
    const sockets: Duplex[] = [];
    server.server.on('upgrade', (_req: unknown, socket: Duplex) => sockets.push(socket));
    const statuses: string[] = [];
    let snapshots = 0;
    client.onStatus((s) => statuses.push(s.status));
    // Both clients emit `snapshot` (the channel client with the channel first); the union's `on` takes neither.
    (client as unknown as { on(event: 'snapshot', listener: () => void): unknown }).on('snapshot', () => {
      snapshots += 1;
    });
    await until(() => snapshots === 1, 10_000, 'the first snapshot');
    // The link drops (the server side of the socket is cut) and comes back: a resume with nothing missed.
    for (const socket of sockets.splice(0)) socket.destroy();
    await until(() => statuses.at(-1) === 'reconnecting', 10_000, 'the drop');
    const command = client.command('led', { state: 'on' }, { timeout: 20_000 });
    await until(() => statuses.at(-1) === 'open', 10_000, 'open again, with nothing published');
    expect(await command).toEqual({ on: true });
    // Resumed, not started over.
    expect(snapshots).toBe(1);
  });
});

it('a server shutting down (closed, told inside the socket) is retried until one takes the socket', async () => {
  // Three attempts meet instances on their way out; the fourth a live one.
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => WS_PROTOCOL });
  await once(wss, 'listening');
  cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  let attempts = 0;
  wss.on('connection', (socket) => {
    attempts += 1;
    if (attempts <= 3) {
      socket.send('{"type":"error","error":{"code":"closed","message":"server is shutting down"}}');
      socket.close(1000, 'closed');
      return;
    }
    socket.send(encodeWsSnapshot('{"led":{"on":true},"tick":0,"pins":{}}', '1'));
  });
  const client = connect(`http://127.0.0.1:${(wss.address() as AddressInfo).port}/api`, contract, {
    transport: 'ws',
    WebSocket: WebSocket as unknown as WebSocketClass,
    reconnect: { initialDelayMs: 50, maxDelayMs: 100 },
  });
  cleanups.push(() => client.close());
  const errors: string[] = [];
  client.on('error', (e) => errors.push(e.code));
  await until(() => client.state, 20_000, 'the snapshot of the fourth attempt');
  expect(errors).toEqual(['closed', 'closed', 'closed']);
  expect(client.status).toBe('open');
});

it('channels over WS: a subscribe made after the socket opened, before the server spoke, is sent', async () => {
  const { server } = await startHub();
  let onOpened: (() => void) | undefined;
  // Runs just after the client's own open handler (a microtask after the socket's open event).
  class Hooked extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener('open', () => queueMicrotask(() => onOpened?.()));
    }
  }
  const client = connectChannels(server.url, contract, {
    transport: 'ws',
    WebSocket: Hooked as unknown as WebSocketClass,
    channels: [],
  });
  cleanups.push(() => client.close());
  onOpened = () => client.subscribe('default');
  await until(() => client.channel('default').state, 10_000, "the subscribed channel's snapshot");
  expect(client.channel('default').state).toMatchObject({ led: { on: false } });
});
