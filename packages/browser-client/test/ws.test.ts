import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WS_PROTOCOL } from '@boardcast/core/wire';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { type BoardcastClient, connect } from '../src/index.js';
import { cleanups, codeOf, contract, makeHub, runCleanups, serve, startHub, track, until } from './helpers.js';
import { receivesInOrder, resetsWhenHistoryIsGone, survivesRestart } from './transport-scenarios.js';

afterEach(runCleanups);

describe('WS transport against a real ws-server', () => {
  it('receives the snapshot, then typed events in order, and mirrors state', () =>
    receivesInOrder({ transport: 'ws', WebSocket }));

  it('survives a server restart: reconnects, resumes, loses and duplicates nothing', () =>
    survivesRestart({ transport: 'ws', WebSocket }));

  it('resets to a fresh snapshot when history no longer reaches back', () =>
    resetsWhenHistoryIsGone({ transport: 'ws', WebSocket }));

  it('runs commands as envelopes and rejects with every error code', async () => {
    const { server } = await startHub();
    const client = connect(server.url, contract, { transport: 'ws', WebSocket });
    track(client);
    await until(() => client.status === 'open');
    const results = await Promise.all([
      client.command('led', { state: 'on' }),
      client.command('led', { state: 'toggle' }),
      client.command('echo', { a: [1, 2] }),
    ]);
    expect(results).toEqual([{ on: true }, { on: false }, { a: [1, 2] }]);
    // biome-ignore lint/suspicious/noExplicitAny: deliberately breaking the contract's types
    const untyped = client as BoardcastClient<any>;
    expect(await codeOf(untyped.command('nope', {}))).toBe('unknown_command');
    expect(await codeOf(untyped.command('led', { state: 'sideways' }))).toBe('invalid_payload');
    expect(await codeOf(client.command('fail', { code: 'crash' }))).toBe('handler_failed');
    for (const code of ['board_offline', 'forbidden', 'unauthorized', 'too_many_requests', 'unsupported'] as const) {
      expect(await codeOf(client.command('fail', { code }))).toBe(code);
    }
    expect(await codeOf(client.command('slow', { ms: 5000 }))).toBe('timeout');
    expect(await codeOf(client.command('slow', { ms: 5000 }, { timeout: 50 }))).toBe('timeout');
    // biome-ignore lint/suspicious/noExplicitAny: a value JSON cannot carry
    expect(await codeOf(client.command('echo', 10n as any))).toBe('invalid_payload');
    expect(client.status).toBe('open'); // none of that hurt the connection
    const pending = client.command('slow', { ms: 5000 });
    client.close();
    expect(await codeOf(pending)).toBe('closed');
  });

  it('queues commands while offline and sends them once connected; rejects new ones when full', async () => {
    const hub = makeHub();
    const server = await serve(hub);
    const port = server.port;
    await server.kill(); // nobody listening yet
    cleanups.push(() => hub.close());
    const client = connect(`http://127.0.0.1:${port}/api`, contract, {
      transport: 'ws',
      WebSocket,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
      queue: { limit: 2 },
      commandTimeoutMs: 10_000,
    });
    track(client);
    const first = client.command('echo', 1);
    const second = client.command('echo', 2);
    expect(await codeOf(client.command('echo', 3))).toBe('queue_full');
    const revived = await serve(hub, { port });
    cleanups.push(() => revived.kill());
    expect(await Promise.all([first, second])).toEqual([1, 2]);
  });

  it('drop-oldest evicts the oldest queued command', async () => {
    const client = connect('http://127.0.0.1:9/api', contract, {
      transport: 'ws',
      WebSocket,
      reconnect: { initialDelayMs: 1000 },
      queue: { limit: 2, overflow: 'drop-oldest' },
    });
    track(client);
    const a = codeOf(client.command('echo', 'a'));
    const b = codeOf(client.command('echo', 'b'));
    const c = codeOf(client.command('echo', 'c'));
    expect(await a).toBe('queue_full');
    client.close();
    expect([await b, await c]).toEqual(['closed', 'closed']);
  });

  it('a 401 on upgrade ends retrying with status closed and code unauthorized', async () => {
    const { server } = await startHub({ ws: { authorize: () => false } });
    const client = connect(server.url, contract, { transport: 'ws', WebSocket, reconnect: { initialDelayMs: 5 } });
    track(client);
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe('unauthorized');
  });

  // A healthy idle socket kept open by its pongs, and a silent link through a
  // stalling TCP proxy, are in progress.test.ts.
  it('replaces a half-open socket found by the heartbeat', async () => {
    // A real `ws` server that accepts, sends a snapshot, then never answers anything again.
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => WS_PROTOCOL });
    await once(wss, 'listening');
    cleanups.push(() => new Promise((r) => wss.close(r)));
    let connections = 0;
    wss.on('connection', (socket) => {
      connections++;
      socket.send('{"type":"snapshot","id":null,"data":{"led":{"on":false},"tick":0,"pins":{}}}');
    });
    const { port } = wss.address() as AddressInfo;
    const client = connect(`http://127.0.0.1:${port}`, contract, {
      transport: 'ws',
      wsUrl: `ws://127.0.0.1:${port}/`,
      WebSocket,
      keepAliveMs: 30, // a ping every 30 ms; 2 missed periods (60 ms) of silence = dead
      reconnect: { initialDelayMs: 10 },
    });
    const t = track(client);
    await until(() => connections >= 2);
    expect(t.errors.some((e) => e.code === 'timeout')).toBe(true);
  });
});
