import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeServerFrame, WS_PROTOCOL } from '@boardcast/core/wire';
import { boardcastHttp } from '@boardcast/sse-server';
import { createWsEndpoint } from '@boardcast/ws-server';
import { EventSource } from 'eventsource';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Instance, instance } from './fixtures.js';
import { eventually, type RedisProcess, redisServerPath, startRedis } from './redis-server.js';

interface Served extends Instance {
  readonly origin: string;
  readonly server: Server;
}

/** What one SSE or WS client received: `name data id` lines, snapshot and reset included. */
interface Client {
  readonly lines: string[];
  close(): void;
}

function sseClient(url: string): Client {
  const lines: string[] = [];
  const source = new EventSource(url);
  for (const name of ['snapshot', 'reset', 'tick']) {
    source.addEventListener(name, (e) => lines.push(`${name} ${e.data} ${e.lastEventId}`));
  }
  return { lines, close: () => source.close() };
}

function wsClient(url: string): Client {
  const lines: string[] = [];
  const socket = new WebSocket(url, WS_PROTOCOL);
  socket.on('message', (raw) => {
    const frame = decodeServerFrame(String(raw));
    if (frame.type === 'snapshot') lines.push(`snapshot ${JSON.stringify(frame.data)}`);
    else if (frame.type === 'event') lines.push(`${frame.event} ${JSON.stringify(frame.data)} ${frame.id}`);
    else if (frame.type === 'reset') lines.push('reset');
  });
  return { lines, close: () => socket.terminate() };
}

const ticks = (client: Client) => client.lines.filter((l) => l.startsWith('tick '));

describe.skipIf(!redisServerPath)('two instances behind SSE and WebSocket share one Redis', () => {
  let redis: RedisProcess;
  const open: Served[] = [];
  const clients: Client[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const s of open.splice(0)) {
      s.server.closeAllConnections();
      await new Promise((resolve) => s.server.close(resolve));
      await s.hub.close();
    }
  });
  afterAll(async () => {
    await redis?.stop();
  });

  async function serve(boards: string[]): Promise<Served> {
    const i = await instance(redis.url);
    const router = i.bus.routeCommands(i.hub, {
      owns: (_command, input) => boards.includes((input as { board: string }).board),
    });
    router.handle('led', ({ board, state }) => ({ board, on: state === 'on', by: i.bus.instanceId }));
    await router.ready;
    const api = boardcastHttp(i.hub);
    const server = createServer(api.node);
    createWsEndpoint(i.hub, { server });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const served = { ...i, server, origin: `127.0.0.1:${port}` };
    open.push(served);
    return served;
  }

  function connect(make: (url: string) => Client, url: string): Client {
    const client = make(url);
    clients.push(client);
    return client;
  }

  it('a publish on A reaches SSE and WS clients of both instances with the same id', async () => {
    const a = await serve([]);
    const b = await serve([]);
    const all = [
      connect(sseClient, `http://${a.origin}/events`),
      connect(sseClient, `http://${b.origin}/events`),
      connect(wsClient, `ws://${a.origin}/ws`),
      connect(wsClient, `ws://${b.origin}/ws`),
    ];
    await eventually(() => {
      for (const c of all) expect(c.lines[0]).toMatch(/^snapshot /);
    });
    const id1 = await a.hub.publish('tick', 1);
    const id2 = await b.hub.publish('tick', 2);
    for (const c of all) {
      await eventually(() => expect(ticks(c)).toEqual([`tick 1 ${id1}`, `tick 2 ${id2}`]));
    }
  });

  it('a client moved from A to B with its last id misses nothing and gets nothing twice', async () => {
    const a = await serve([]);
    const b = await serve([]);
    const sseOnA = connect(sseClient, `http://${a.origin}/events`);
    const wsOnA = connect(wsClient, `ws://${a.origin}/ws`);
    await eventually(() => expect([sseOnA.lines.length, wsOnA.lines.length]).toEqual([1, 1]));
    const first = [await a.hub.publish('tick', 1), await a.hub.publish('tick', 2)];
    await eventually(() => expect([ticks(sseOnA).length, ticks(wsOnA).length]).toEqual([2, 2]));
    sseOnA.close();
    wsOnA.close();
    const lastId = first[1] as string;
    // While the clients are away, both instances publish.
    const missed = [await a.hub.publish('tick', 3), await b.hub.publish('tick', 4)];

    const sseOnB = connect(sseClient, `http://${b.origin}/events?lastEventId=${encodeURIComponent(lastId)}`);
    const wsOnB = connect(wsClient, `ws://${b.origin}/ws?lastEventId=${encodeURIComponent(lastId)}`);
    await eventually(() => expect([ticks(sseOnB).length, ticks(wsOnB).length]).toEqual([2, 2]));
    const live = await a.hub.publish('tick', 5);
    const expected = [`tick 3 ${missed[0]}`, `tick 4 ${missed[1]}`, `tick 5 ${live}`];
    await eventually(() => expect(sseOnB.lines).toEqual(expected));
    await eventually(() => expect(wsOnB.lines).toEqual(expected));
  });

  it('a native EventSource reset onto an empty stream resumes from the snapshot’s id: one reset, not one per reconnect', async () => {
    // One port, two lives: a server on a stream with events, then one on an empty stream.
    const before = await instance(redis.url, { name: 'origin-before' });
    const after = await instance(redis.url, { name: 'origin-after' });
    let api = boardcastHttp(before.hub, { sse: { retry: 100 } });
    const server = createServer((req, res) => api.node(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    open.push({ ...before, server, origin: `127.0.0.1:${port}` }, { ...after, server, origin: `127.0.0.1:${port}` });
    // The real `eventsource` package: Last-Event-ID changes only on an event with `id:`, and it reconnects by itself.
    const source = new EventSource(`http://127.0.0.1:${port}/events`);
    clients.push({ lines: [], close: () => source.close() });
    const seen: string[] = [];
    let opens = 0;
    source.addEventListener('open', () => opens++);
    for (const name of ['snapshot', 'reset', 'tick']) {
      source.addEventListener(name, (e) => seen.push(`${name} ${e.lastEventId}`));
    }
    await eventually(() => expect(seen).toEqual(['snapshot 0-0']));
    const old = await before.hub.publish('tick', 1);
    await eventually(() => expect(seen.at(-1)).toBe(`tick ${old}`));

    api = boardcastHttp(after.hub, { sse: { retry: 100 } });
    server.closeAllConnections();
    await eventually(() => expect(seen.at(-1)).toBe('snapshot 0-0'));
    expect(seen.filter((l) => l.startsWith('reset'))).toHaveLength(1);
    // Three more drops: each reconnect sends 0-0, which the empty stream accepts.
    for (let i = 0; i < 3; i++) {
      const opened = opens;
      server.closeAllConnections();
      await eventually(() => expect(opens).toBeGreaterThan(opened));
    }
    const fresh = await after.hub.publish('tick', 2);
    await eventually(() => expect(seen.at(-1)).toBe(`tick ${fresh}`));
    expect(seen.filter((l) => l.startsWith('reset'))).toHaveLength(1);
    expect(seen.filter((l) => l.startsWith('snapshot'))).toHaveLength(2);
  });

  it('an HTTP command on A for a board attached to B returns B’s result', async () => {
    const a = await serve(['a1']);
    const b = await serve(['b1']);
    const post = (board: string) =>
      fetch(`http://${a.origin}/commands/led`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ board, state: 'on' }),
      });
    const remote = await post('b1');
    expect(remote.status).toBe(200);
    expect(await remote.json()).toEqual({ board: 'b1', on: true, by: b.bus.instanceId });
    const local = await post('a1');
    expect(await local.json()).toEqual({ board: 'a1', on: true, by: a.bus.instanceId });
    const offline = await post('zz');
    expect(offline.status).toBe(503);
    expect(((await offline.json()) as { error: { code: string } }).error.code).toBe('board_offline');
  });

  it('a WS command on B for a board attached to A returns A’s result', async () => {
    const a = await serve(['a1']);
    const b = await serve([]);
    const socket = new WebSocket(`ws://${b.origin}/ws`, WS_PROTOCOL);
    clients.push({ lines: [], close: () => socket.terminate() });
    const results: unknown[] = [];
    socket.on('message', (raw) => {
      const frame = decodeServerFrame(String(raw));
      if (frame.type === 'result') results.push(frame);
    });
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'command', id: 7, command: 'led', data: { board: 'a1', state: 'off' } }));
    await eventually(() =>
      expect(results).toEqual([
        { type: 'result', id: 7, ok: true, data: { board: 'a1', on: false, by: a.bus.instanceId } },
      ]),
    );
  });
});
