/**
 * Issue 22: "A credential that expires or rotates does the same to its live
 * connections" as `hub.invalidateAccess`: nothing published after the
 * moment reaches the client. Over real SSE streams on 127.0.0.1.
 */
import { createHub, DEFAULT_CHANNEL, DIRECTORY } from '@boardcast/core';
import type { EventSourceMessage } from 'eventsource-parser';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FleetHub, fleetContract, fleetInitial } from '../../../test-support/channel-fleet.js';
import { endAll } from '../../../test-support/end-all.js';
import { fakeDateForTest } from '../../../test-support/fake-date.js';
import { rotatingKeysFleet } from '../../../test-support/rotating-keys.js';
import { type BoardcastHttp, boardcastHttp, type DisconnectReason } from '../src/index.js';
import { listen, openStream, type StreamReader, type TestServer, waitFor } from './helpers.js';

let server: TestServer | undefined;
let api: BoardcastHttp | undefined;
let hub: FleetHub | undefined;
const streams: StreamReader[] = [];

afterEach(async () => {
  await endAll(...streams.splice(0), api, hub, server);
  server = api = hub = undefined;
});

async function open(url: string, headers: Record<string, string>): Promise<StreamReader> {
  const stream = await openStream(url, headers);
  streams.push(stream);
  return stream;
}

/** The `tick` data a stream received (a channel stream's `{channel, data}` or a 0.1 stream's number). */
function ticks(messages: readonly EventSourceMessage[]): unknown[] {
  return messages.filter((m) => m.event === 'tick').map((m) => JSON.parse(m.data));
}

describe('SSE: a credential that expires', () => {
  it('nothing published after expiresAt reaches the stream, even before the expiry timer has run; then 401', async () => {
    // The credential expires in an hour of the test's clock, and the test moves
    // Date past it in one step: no expiry timer can have run.
    fakeDateForTest();
    hub = createHub(fleetContract, { state: fleetInitial });
    const reasons: DisconnectReason[] = [];
    api = boardcastHttp(hub, {
      base: '/api',
      authorize: (request) => {
        const user = request.header('x-user');
        const expires = request.header('x-expires-at');
        return user ? { id: user, expiresAt: Number(expires) } : false;
      },
    });
    api.sse.on('disconnect', (_client, reason) => reasons.push(reason));
    server = await listen(api.node);
    const at = Date.now() + 3_600_000;
    const headers = { 'x-user': 'alice', 'x-expires-at': String(at) };
    const channel = await open(`${server.url}/api/events?channels=board-1`, headers);
    const single = await open(`${server.url}/api/events`, headers);
    expect([channel.response.status, single.response.status]).toEqual([200, 200]);
    await hub.channel('board-1').publish('tick', 1);
    await hub.publish('tick', 1);
    await waitFor(() => ticks(channel.messages).length === 1 && ticks(single.messages).length === 1, 'live before');

    // Past expiresAt with no expiry timer run: a timer alone would still
    // write these (on a busy loop, the window is that loop's lag).
    vi.setSystemTime(at + 1);
    await hub.channel('board-1').publish('tick', 2);
    await hub.publish('tick', 2);

    await waitFor(() => channel.ended && single.ended, 'both streams ended');
    expect(ticks(channel.messages)).toEqual([{ channel: 'board-1', data: 1 }]);
    expect(ticks(single.messages)).toEqual([1]);
    // What the client sees: the response ends after the last event it may have; no frame says more.
    expect(channel.messages.at(-1)?.event).toBe('tick');
    expect(single.messages.at(-1)?.event).toBe('tick');
    await waitFor(() => reasons.length === 2, 'two disconnects');
    expect(reasons).toEqual(['expired', 'expired']);
    // The browser's reconnect carries the same credential: refused, so EventSource stops.
    const again = await fetch(`${server.url}/api/events?channels=board-1`, { headers });
    expect([again.status, (await again.json()).error.code]).toEqual([401, 'unauthorized']);
    expect(api.sse.clientCount).toBe(0);
  });
});

describe('SSE: a credential that rotates', () => {
  it('after the program rotates a key and calls hub.invalidateAccess, the old key’s streams lose every channel and get nothing published after', async () => {
    // The program's credential store: one current key per user; authorize says
    // who holds which key, the policy gives rights only to a current key.
    const rotating = rotatingKeysFleet();
    hub = rotating.hub;
    const { keys, holder } = rotating;
    const reasons: { user: string; reason: DisconnectReason }[] = [];
    api = boardcastHttp(hub, {
      base: '/api',
      authorize: (request) => holder((request.header('authorization') ?? '').replace(/^Bearer /, '')),
    });
    api.sse.on('disconnect', (client, reason) => reasons.push({ user: (client.auth as { id: string }).id, reason }));
    server = await listen(api.node);
    const as = (token: string) => ({ Authorization: `Bearer ${token}` });
    const url = `${server.url}/api/events`;
    await hub.channel('board-1').describe({ kind: 'esp32' });
    await hub.channel('board-2').describe({ kind: 'esp32' });
    const oldChannels = await open(`${url}?channels=board-1,board-2,${DIRECTORY}`, as('alice:k1'));
    const oldSingle = await open(url, as('alice:k1'));
    const bob = await open(`${url}?channels=board-1,board-2`, as('bob:b1'));
    const snapshots = (s: StreamReader) =>
      s.messages.filter((m) => m.event === 'snapshot').map((m) => JSON.parse(m.data));
    await waitFor(() => snapshots(oldChannels).length === 3 && snapshots(bob).length === 2, 'channel snapshots');
    expect(snapshots(oldChannels).find((d) => d.channel === DIRECTORY)?.state.total).toBe(2);
    await hub.channel('board-1').publish('tick', 1);
    await hub.channel('board-2').publish('tick', 1);
    await hub.publish('tick', 1);
    await waitFor(() => ticks(oldChannels.messages).length === 2 && ticks(oldSingle.messages).length === 1, 'live');

    keys.set('alice', 'k2');
    await hub.invalidateAccess('alice:k1');
    await hub.channel('board-1').publish('tick', 2);
    await hub.channel('board-2').publish('tick', 2);
    await hub.publish('tick', 2);
    // The new key works at once; the old one is refused from now on.
    const fresh = await open(`${url}?channels=board-1,${DIRECTORY}`, as('alice:k2'));
    expect(fresh.response.status).toBe(200);
    expect((await fetch(url, { headers: as('alice:k1') })).status).toBe(401);
    await hub.channel('board-1').publish('tick', 3);
    await waitFor(() => ticks(fresh.messages).length === 1, 'the new key’s stream is live');
    // A directory change reaches the new key's viewer, and not the old key's.
    await hub.channel('board-3').describe({ kind: 'pi' });
    await waitFor(() => fresh.messages.some((m) => m.event === 'entry'), 'the new key sees the new entry');
    expect(JSON.parse(fresh.messages.find((m) => m.event === 'entry')?.data ?? '{}')).toEqual({
      channel: DIRECTORY,
      data: { id: 'board-3', kind: 'pi' },
    });
    await waitFor(() => ticks(bob.messages).length === 5, 'bob (not rotated) got everything');

    // The old key's channel stream: a forbidden frame naming each channel, then nothing of them.
    const forbidden = oldChannels.messages.filter((m) => m.event === 'forbidden').map((m) => JSON.parse(m.data));
    expect(forbidden.map((f) => [f.channel, f.error.code]).sort()).toEqual([
      ['board-1', 'forbidden'],
      ['board-2', 'forbidden'],
    ]);
    const events = oldChannels.messages.map((m) => m.event);
    expect(events.lastIndexOf('tick')).toBeLessThan(events.indexOf('forbidden'));
    expect(ticks(oldChannels.messages)).toEqual([
      { channel: 'board-1', data: 1 },
      { channel: 'board-2', data: 1 },
    ]);
    // Its directory was listed again, empty, and no entry followed.
    expect(snapshots(oldChannels).at(-1)).toEqual({ channel: DIRECTORY, state: { entries: [], total: 0 } });
    expect(oldChannels.messages.some((m) => m.event === 'entry')).toBe(false);
    // The old key's 0.1 stream: forbidden for the default channel, and the stream ends.
    await waitFor(() => oldSingle.ended, 'the old 0.1 stream ended');
    expect(ticks(oldSingle.messages)).toEqual([1]);
    expect(oldSingle.messages.at(-1)).toMatchObject({ event: 'forbidden' });
    expect(JSON.parse(oldSingle.messages.at(-1)?.data ?? '{}')).toMatchObject({
      channel: DEFAULT_CHANNEL,
      error: { code: 'forbidden' },
    });
    expect(reasons).toEqual([{ user: 'alice', reason: 'forbidden' }]);
    expect(ticks(bob.messages)).toEqual([
      { channel: 'board-1', data: 1 },
      { channel: 'board-2', data: 1 },
      { channel: 'board-1', data: 2 },
      { channel: 'board-2', data: 2 },
      { channel: 'board-1', data: 3 },
    ]);
  });
});
