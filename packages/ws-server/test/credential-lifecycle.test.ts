/**
 * Issue 22: "A credential that expires or rotates does the same to its live
 * connections" as `hub.invalidateAccess`: nothing published after the
 * moment reaches the client, and nothing it sends after runs. Over real
 * sockets on 127.0.0.1 with the real `ws` client.
 */
import { createServer } from 'node:http';
import { DIRECTORY } from '@boardcast/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeDateForTest } from '../../../test-support/fake-date.js';
import { rotatingKeysFleet } from '../../../test-support/rotating-keys.js';
import { createWsEndpoint, type WsDisconnectReason } from '../src/index.js';
import { closeAll, type Frame, fleetSetup, listen, TestClient, waitFor } from './helpers.js';

afterEach(closeAll);

const ticks = (client: TestClient) => client.frames.filter((f) => f.type === 'event' && f.event === 'tick');
const expiredError = { type: 'error', error: { code: 'unauthorized', message: 'the credential has expired' } };

describe('WebSocket: a credential that expires', () => {
  it('nothing published after expiresAt reaches the socket, even before the expiry timer has run; then 401', async () => {
    // The credential expires in an hour of the test's clock, and the test moves
    // Date past it in one step: no expiry timer can have run.
    fakeDateForTest();
    const env = await fleetSetup();
    const { hub, url, disconnects } = env;
    const at = Date.now() + 3_600_000;
    const channel = await TestClient.open(url(`user=alice&channels=board-1&expiresAt=${at}`));
    const single = await TestClient.open(url(`user=alice&expiresAt=${at}`));
    await hub.channel('board-1').publish('tick', 1);
    await hub.publish('tick', 1);
    await waitFor(() => ticks(channel).length === 1 && ticks(single).length === 1, 'live before');

    // Past expiresAt with no expiry timer run: a timer alone would still
    // send these (on a busy loop, the window is that loop's lag).
    vi.setSystemTime(at + 1);
    await hub.channel('board-1').publish('tick', 2);
    await hub.publish('tick', 2);

    const closed = await Promise.all([channel.closed, single.closed]);
    expect(closed.map((c) => c.code)).toEqual([1008, 1008]);
    expect(ticks(channel).map((f) => [f.channel, f.data])).toEqual([['board-1', 1]]);
    expect(ticks(single).map((f) => f.data)).toEqual([1]);
    // What the client sees: an unauthorized error, then the close.
    expect(channel.frames.at(-1)).toEqual(expiredError);
    expect(single.frames.at(-1)).toEqual(expiredError);
    await waitFor(() => disconnects.length === 2, 'two disconnects');
    expect(disconnects.map((d) => d.reason.cause)).toEqual(['expired', 'expired']);
    await expect(TestClient.open(url(`user=alice&expiresAt=${at}`))).rejects.toThrow('401');
    await env.close();
  });

  it('a command read after expiresAt does not run, even before the expiry timer has run', async () => {
    // The credential expires in an hour of the test's clock, and the test moves
    // Date past it in one step: no expiry timer can have run when the command is read.
    fakeDateForTest();
    const env = await fleetSetup();
    const { url, ran } = env;
    const at = Date.now() + 3_600_000;
    const bob = await TestClient.open(url(`user=bob&channels=board-1&expiresAt=${at}`));
    await bob.next((f) => f.type === 'snapshot');
    bob.send({ type: 'command', id: 'before', command: 'bump', channel: 'board-1', data: { by: 1 } });
    expect((await bob.result('before')).ok).toBe(true);
    vi.setSystemTime(at + 1);
    bob.send({ type: 'command', id: 'after', command: 'bump', channel: 'board-1', data: { by: 1 } });
    await bob.closed;
    expect(bob.frames.find((f) => f.type === 'result' && f.id === 'after')).toBeUndefined();
    expect(bob.frames.at(-1)).toEqual(expiredError);
    expect(ran).toEqual(['board-1:bob']);
    await env.close();
  });
});

describe('WebSocket: a credential that rotates', () => {
  it('after the program rotates a key and calls hub.invalidateAccess, the old key’s sockets lose every channel and get nothing published after', async () => {
    // The program's credential store: one current key per user; authorize says
    // who holds which key, the policy gives rights only to a current key.
    const { hub, keys, holder } = rotatingKeysFleet();
    const server = createServer((_req, res) => res.end('page'));
    const endpoint = createWsEndpoint(hub, {
      server,
      authorize: (request) => holder(request.url.searchParams.get('token') ?? ''),
    });
    const disconnects: { user: string; reason: WsDisconnectReason }[] = [];
    endpoint.on('disconnect', (client, reason) =>
      disconnects.push({ user: (client.auth as { id: string }).id, reason }),
    );
    const port = await listen(server);
    const url = (query: string) => `ws://127.0.0.1:${port}/ws?${query}`;

    await hub.channel('board-1').describe({ kind: 'esp32' });
    await hub.channel('board-2').describe({ kind: 'esp32' });
    const oldChannels = await TestClient.open(url(`token=alice:k1&channels=board-1,board-2,${DIRECTORY}`));
    const oldSingle = await TestClient.open(url('token=alice:k1'));
    const bob = await TestClient.open(url('token=bob:b1&channels=board-1,board-2'));
    const snapshots = (c: TestClient) => c.frames.filter((f) => f.type === 'snapshot');
    await waitFor(() => snapshots(oldChannels).length === 3 && snapshots(bob).length === 2, 'channel snapshots');
    expect(snapshots(oldChannels).find((f) => f.channel === DIRECTORY)?.data.total).toBe(2);
    await hub.channel('board-1').publish('tick', 1);
    await hub.channel('board-2').publish('tick', 1);
    await hub.publish('tick', 1);
    await waitFor(() => ticks(oldChannels).length === 2 && ticks(oldSingle).length === 1, 'live');

    keys.set('alice', 'k2');
    await hub.invalidateAccess('alice:k1');
    await hub.channel('board-1').publish('tick', 2);
    await hub.channel('board-2').publish('tick', 2);
    await hub.publish('tick', 2);
    // The new key works at once; the old one is refused from now on.
    const fresh = await TestClient.open(url(`token=alice:k2&channels=board-1,${DIRECTORY}`));
    await expect(TestClient.open(url('token=alice:k1'))).rejects.toThrow('401');
    await hub.channel('board-1').publish('tick', 3);
    await fresh.next((f) => f.type === 'event' && f.data === 3);
    // A directory change reaches the new key's viewer, and not the old key's.
    await hub.channel('board-3').describe({ kind: 'pi' });
    const entry = await fresh.next((f) => f.type === 'event' && f.event === 'entry');
    expect(entry).toMatchObject({ channel: DIRECTORY, data: { id: 'board-3', kind: 'pi' } });
    await waitFor(() => ticks(bob).length === 5, 'bob (not rotated) got everything');

    // The old key's channel socket: a forbidden frame naming each channel, then nothing of them.
    const forbidden = oldChannels.frames.filter((f) => f.type === 'forbidden');
    expect(forbidden.map((f) => [f.channel, f.error.code]).sort()).toEqual([
      ['board-1', 'forbidden'],
      ['board-2', 'forbidden'],
    ]);
    const types = oldChannels.frames.map((f) => f.type);
    expect(types.lastIndexOf('event')).toBeLessThan(types.indexOf('forbidden'));
    expect(ticks(oldChannels).map((f) => [f.channel, f.data])).toEqual([
      ['board-1', 1],
      ['board-2', 1],
    ]);
    // Its directory was listed again, empty, and no entry followed.
    expect(snapshots(oldChannels).at(-1)).toMatchObject({ channel: DIRECTORY, data: { entries: [], total: 0 } });
    expect(oldChannels.frames.some((f) => f.event === 'entry')).toBe(false);
    // It may not subscribe again with the old key.
    oldChannels.send({ type: 'subscribe', id: 's', channels: ['board-1'] });
    const again = await oldChannels.result('s');
    expect(again.data.added).toEqual([]);
    expect(again.data.refused.map((r: Frame) => r.error.code)).toEqual(['forbidden']);
    // The old key's 0.1 socket: an error for the default channel, then closed.
    const closed = await oldSingle.closed;
    expect(closed.code).toBe(1008);
    expect(ticks(oldSingle).map((f) => f.data)).toEqual([1]);
    expect(oldSingle.frames.at(-1)).toMatchObject({ type: 'error', error: { code: 'forbidden' } });
    await waitFor(() => disconnects.length === 1, 'disconnect');
    expect(disconnects.map((d) => [d.user, d.reason.cause])).toEqual([['alice', 'forbidden']]);
    expect(ticks(bob).map((f) => [f.channel, f.data])).toEqual([
      ['board-1', 1],
      ['board-2', 1],
      ['board-1', 2],
      ['board-2', 2],
      ['board-1', 3],
    ]);
    await endpoint.close();
    await hub.close();
  });
});
