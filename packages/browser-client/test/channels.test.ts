import { accessTable, type Contract, createHub, DIRECTORY, type Hub } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  type ChannelClient,
  type ChannelConnectOptions,
  connectChannels,
  connectChannelsSse,
  connectChannelsWs,
} from '../src/channels.js';
import type { WebSocketClass } from '../src/ws-transport.js';
import { channelServer } from './channel-server.js';
import { fleet } from './fleet.js';
import { cleanups, rawServer, runCleanups, until } from './helpers.js';

type Fleet = typeof fleet extends Contract<infer S> ? S : never;

function fleetHub(options: { access?: ReturnType<typeof accessTable> } = {}) {
  const hub = createHub(fleet, { state: { sum: 0, n: 0, on: false }, ...options });
  hub.handle('led', async ({ on }, { channel }) => {
    await hub.channel(channel).publish('led', { on });
    return { on };
  });
  return hub;
}

async function start(hub: Hub<Fleet>) {
  const server = await channelServer(hub);
  cleanups.push(() => server.close());
  return server;
}

function open(
  url: string,
  transport: 'sse' | 'ws',
  channels: string[],
  headers?: Record<string, string>,
  extra: object = {},
) {
  const reconnect = { initialDelayMs: 50, maxDelayMs: 200 };
  // The single-transport functions (the Chromium test goes through connectChannels).
  const client: ChannelClient<Fleet> =
    transport === 'ws'
      ? connectChannelsWs(url, fleet, {
          ...extra,
          channels,
          WebSocket: WebSocket as unknown as WebSocketClass,
          wsUrl: headers ? `${url.replace(/^http/, 'ws')}/ws?user=${headers['x-user']}` : undefined,
          reconnect,
        })
      : connectChannelsSse(url, fleet, { ...extra, channels, headers, reconnect });
  cleanups.push(() => client.close());
  return client;
}

const same = (client: ChannelClient<Fleet>, hub: Hub<Fleet>, id: string) =>
  until(() => {
    expect(client.channel(id).state).toEqual(hub.channel(id).state);
    return true;
  });

afterEach(runCleanups);

describe('channels over SSE: refusals', () => {
  it('the same refusal twice in a row (no resume id) stops with its code', async () => {
    let requests = 0;
    const raw = await rawServer((_req, res) => {
      requests++;
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'invalid_payload', message: 'no' } }));
    });
    cleanups.push(() => raw.close());
    const client = open(`${raw.url}/api`, 'sse', ['a']);
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe('invalid_payload');
    expect(requests).toBe(2);
  });
});

describe.each(['sse', 'ws'] as const)('channels over %s, real sockets', (transport) => {
  it("leaves the caller's options object as it was, across a reconnect", async () => {
    // SSE: the client adopts the keep-alive period the server announces (the
    // first frame of every stream) and carries it to the next dial. WS: the
    // client pings every keepAliveMs; no WS server announces a period, so
    // nothing is adopted.
    const hub = fleetHub();
    const server = await start(hub);
    const reconnect = { initialDelayMs: 50, maxDelayMs: 200 };
    const given: ChannelConnectOptions<Fleet> =
      transport === 'ws'
        ? { transport, channels: ['a'], WebSocket: WebSocket as unknown as WebSocketClass, keepAliveMs: 100, reconnect }
        : { transport, channels: ['a'], reconnect };
    const before = { ...given };
    const client = connectChannels(server.url, fleet, given);
    cleanups.push(() => client.close());
    const statuses: string[] = [];
    client.onStatus((s) => statuses.push(s.status));
    await client.channel('a').whenReady();
    server.drop();
    await until(() => statuses.includes('reconnecting') && client.status === 'open');
    expect(given).toStrictEqual(before);
  });

  it('a quiet channel added after a busy one, then a reconnect from the connection id: nothing folded twice', async () => {
    const hub = fleetHub();
    const busy = hub.channel('busy');
    const quiet = hub.channel('quiet');
    await quiet.publish('add', 100);
    const server = await start(hub);
    const client = open(server.url, transport, ['busy']);
    const seen: string[] = [];
    client.on('event', (channel, name) => seen.push(`${channel}:${name}`));
    await client.channel('busy').whenReady();
    for (let i = 0; i < 5; i++) await busy.publish('add', 1);
    await same(client, hub, 'busy');
    // Newer than anything this client holds: its snapshot must carry it, and so must the position.
    await quiet.publish('add', 100);
    client.subscribe('quiet');
    expect(await client.channel('quiet').whenReady()).toEqual({ sum: 200, n: 2, on: false });
    expect(client.lastEventId).toBe(hub.headId);
    await busy.publish('add', 1);
    await quiet.publish('add', 10);
    await same(client, hub, 'quiet');
    await same(client, hub, 'busy');
    // Cut the link; events published meanwhile arrive once, on resume.
    const before = client.lastEventId;
    server.drop();
    await until(() => client.status === 'reconnecting' || client.lastEventId !== before);
    await busy.publish('add', 1);
    await quiet.publish('add', 1000);
    await same(client, hub, 'busy');
    await same(client, hub, 'quiet');
    expect(hub.channel('busy').state.n).toBe(7);
    expect(seen.filter((s) => s === 'busy:add')).toHaveLength(7);
    expect(seen.filter((s) => s === 'quiet:add')).toHaveLength(2);
    expect(hub.channel('quiet').state.n).toBe(4);
    expect(client.channels).toEqual(['busy', 'quiet']);
  });

  it('unsubscribe empties the view and folds nothing of the channel after it; commands name their channel', async () => {
    const hub = fleetHub();
    const server = await start(hub);
    const client = open(server.url, transport, ['a', 'b']);
    await client.channel('a').whenReady();
    await client.channel('b').whenReady();
    expect(await client.channel('b').send('led', { on: true })).toEqual({ on: true });
    expect(hub.channel('b').state.on).toBe(true);
    expect(hub.channel('a').state.on).toBe(false);
    await same(client, hub, 'b');
    const changes: unknown[] = [];
    client.channel('a').on('change', (s) => changes.push(s));
    client.unsubscribe('a');
    expect(client.channel('a').state).toBeUndefined();
    expect(client.channel('a').subscribed).toBe(false);
    await hub.channel('a').publish('add', 5);
    await hub.channel('b').publish('add', 5);
    await same(client, hub, 'b');
    expect(client.channel('a').state).toBeUndefined();
    expect(changes).toEqual([undefined]);
    expect(await client.command('led', { on: true }, { channel: 'a' })).toEqual({ on: true });
    expect(hub.channel('a').state.on).toBe(true);
  });

  it('a channel the viewer may not see is forbidden: typed, dropped from the set, never asked for again', async () => {
    const access = accessTable({ alice: { see: ['board-1', 'board-2'] } });
    const hub = fleetHub({ access });
    const server = await start(hub);
    const client = open(server.url, transport, ['board-1', 'board-3'], { 'x-user': 'alice' });
    const refusals: [string, string][] = [];
    client.on('forbidden', (channel, error) => refusals.push([channel, error.code]));
    await expect(client.channel('board-3').whenReady()).rejects.toMatchObject({ code: 'forbidden' });
    await client.channel('board-1').whenReady();
    expect(client.channels).toEqual(['board-1']);
    expect(client.channel('board-3').error?.code).toBe('forbidden');
    client.subscribe('board-2');
    await client.channel('board-2').whenReady();
    await hub.channel('board-3').publish('add', 1);
    server.drop();
    await hub.channel('board-2').publish('add', 2);
    await same(client, hub, 'board-2');
    expect(refusals).toEqual([['board-3', 'forbidden']]);
    expect(client.channel('board-3').state).toBeUndefined();
    // Asked again explicitly: asked again (and refused again).
    client.subscribe('board-3');
    await until(() => refusals.length === 2);
  });

  it('access revoked while live: forbidden, dropped, nothing after it, not asked for again on reconnect', async () => {
    const access = accessTable({ bob: { see: ['board-1', 'board-2'] } });
    const hub = fleetHub({ access });
    const server = await start(hub);
    const client = open(server.url, transport, ['board-1', 'board-2'], { 'x-user': 'bob' });
    const refusals: string[] = [];
    client.on('forbidden', (channel, error) => refusals.push(`${channel}:${error.code}`));
    await client.channel('board-2').whenReady();
    await client.channel('board-1').whenReady();
    access.set('bob', { see: ['board-1'] });
    await hub.invalidateAccess('bob');
    await until(() => refusals.length === 1);
    expect(refusals).toEqual(['board-2:forbidden']);
    expect(client.channel('board-2').state).toBeUndefined();
    await hub.channel('board-2').publish('add', 1);
    server.drop();
    await hub.channel('board-1').publish('add', 1);
    await same(client, hub, 'board-1');
    expect(client.channel('board-2').state).toBeUndefined();
    expect(refusals).toEqual(['board-2:forbidden']);
    expect(client.channels).toEqual(['board-1']);
  });

  it('a large set (past the URL limit), and a pattern that picks up a channel appearing later', async () => {
    const hub = fleetHub();
    const ids = Array.from({ length: 150 }, (_, i) => `board-with-a-long-name-${String(i).padStart(3, '0')}`);
    for (const id of ids) await hub.channel(id).publish('add', 1);
    const server = await start(hub);
    const methods: string[] = [];
    const recording: typeof fetch = (input, init) => {
      methods.push(init?.method ?? 'GET');
      return fetch(input, init);
    };
    const client = open(server.url, transport, [...ids, 'kitchen-*'], undefined, { fetch: recording });
    await until(() => ids.every((id) => client.channel(id).state?.n === 1));
    await hub.channel(ids[42] as string).publish('add', 2);
    await same(client, hub, ids[42] as string);
    await hub.channel('kitchen-3').publish('add', 7);
    await same(client, hub, 'kitchen-3');
    expect(client.channel('kitchen-3').subscribed).toBe(true);
    server.drop();
    await hub.channel(ids[7] as string).publish('add', 3);
    await hub.channel('kitchen-3').publish('add', 1);
    await same(client, hub, ids[7] as string);
    await same(client, hub, 'kitchen-3');
    expect(hub.channel(ids[7] as string).state.n).toBe(2);
    // SSE: the set travelled in a POST body (first stream and the resume); WS sends it in frames.
    expect(methods).toEqual(transport === 'sse' ? ['POST', 'POST'] : []);
  });

  it('a viewer the server refuses (401) stops with a typed error instead of retrying', async () => {
    const hub = fleetHub();
    const server = await start(hub);
    const client = open(server.url, transport, ['a'], { 'x-user': 'nobody' });
    await until(() => client.status === 'closed');
    expect(client.error?.code).toBe('unauthorized');
    await expect(client.channel('a').whenReady()).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('random subscribes, unsubscribes, publishes and cuts (fixed seed): every held channel ends equal to the hub, nothing folded twice', async () => {
    const hub = fleetHub();
    const server = await start(hub);
    const ids = Array.from({ length: 12 }, (_, i) => `ch-${i}`);
    let seed = Number(process.env.SEED ?? 22);
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = () => ids[Math.floor(random() * ids.length)] as string;
    const client = open(server.url, transport, ids.slice(0, 3));
    for (let step = 0; step < 80; step++) {
      const r = random();
      if (r < 0.2) client.subscribe(pick());
      else if (r < 0.3) client.unsubscribe(pick());
      else if (r < 0.35) server.drop();
      else await hub.channel(pick()).publish('add', 1);
      if (step % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (const id of client.channels) await same(client, hub, id);
    for (const id of ids.filter((c) => !client.channels.includes(c))) expect(client.channel(id).state).toBeUndefined();
    expect(client.channels.length).toBeGreaterThan(0);
  });

  it('the directory is a live list', async () => {
    const hub = fleetHub();
    hub.channel('b-1').describe({ kind: 'esp32', status: 'online' });
    const server = await start(hub);
    const client = open(server.url, transport, [DIRECTORY]);
    await until(() => client.directory.state?.entries.length === 1);
    expect(client.directory.state?.entries[0]).toMatchObject({ id: 'b-1', kind: 'esp32' });
    hub.channel('a-2').describe({ kind: 'pi', status: 'online' });
    await until(() => client.directory.state?.total === 2);
    expect(client.directory.state?.entries.map((e) => e.id)).toEqual(['a-2', 'b-1']);
    hub.channel('b-1').describe({ status: 'offline' });
    await until(() => client.directory.state?.entries[1]?.status === 'offline');
    hub.channel('a-2').remove();
    await until(() => client.directory.state?.total === 1);
    expect(client.directory.state?.entries.map((e) => e.id)).toEqual(['b-1']);
  });

  it('a channel added with `since` and the state held at that id continues from there', async () => {
    const hub = fleetHub();
    const t = hub.channel('t');
    await t.publish('add', 1);
    const since = await t.publish('add', 2);
    const held = hub.channel('t').state;
    await t.publish('add', 3);
    await t.publish('add', 4);
    const server = await start(hub);
    const client = open(server.url, transport, ['other']);
    await client.channel('other').whenReady();
    await hub.channel('other').publish('add', 1);
    await same(client, hub, 'other');
    const ids: (string | undefined)[] = [];
    client.channel('t').on('add', (_n, id) => ids.push(id));
    client.subscribe({ channel: 't', since, state: held });
    await same(client, hub, 't');
    // Both were published before the connection's position: replayed without ids.
    expect(ids).toEqual([undefined, undefined]);
    await t.publish('add', 5);
    await same(client, hub, 't');
    expect(hub.channel('t').state.n).toBe(5);
  });
});
