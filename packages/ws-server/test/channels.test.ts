import { DIRECTORY } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, type Frame, fleetSetup, TestClient, waitFor } from './helpers.js';

afterEach(closeAll);

const of = (client: TestClient, type: string, channel?: string) =>
  client.frames.filter((f) => f.type === type && (channel === undefined || f.channel === channel));

/** Stop reading `slow`'s socket and publish 64 KiB blobs on board-1 until the endpoint reports backpressure. */
async function lagBehind(env: Awaited<ReturnType<typeof fleetSetup>>, slow: TestClient): Promise<boolean> {
  let lagging = false;
  env.endpoint.on('backpressure', () => {
    lagging = true;
  });
  (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const blob = 'x'.repeat(64 * 1024);
  for (let i = 0; i < 5000 && !lagging; i++) {
    await env.hub.channel('board-1').publish('blob', blob);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return lagging;
}

describe('WebSocket channels', () => {
  it('a viewer with rights to board-1 only never gets board-2 (connect, subscribe, resume); its commands are forbidden', async () => {
    const env = await fleetSetup();
    const { hub, ran, url } = env;
    await hub.channel('board-1').describe({ kind: 'esp32' });
    await hub.channel('board-2').describe({ kind: 'esp32', firmware: 'v2-secret' });
    const bob = await TestClient.open(url(`user=bob&channels=board-1,board-2,${DIRECTORY}`));
    await waitFor(() => of(bob, 'snapshot').length === 2, 'snapshots');
    expect(of(bob, 'forbidden')).toEqual([
      {
        type: 'forbidden',
        channel: 'board-2',
        error: { code: 'forbidden', message: 'channel "board-2" is not yours to see' },
      },
    ]);
    expect(of(bob, 'snapshot', DIRECTORY)[0]?.data).toEqual({ entries: [{ id: 'board-1', kind: 'esp32' }], total: 1 });
    const first = bob.frames.filter((f) => typeof f.id === 'string').at(-1)?.id as string;

    bob.send({ type: 'subscribe', id: 's1', channels: ['board-2', { channel: 'board-2', since: first }] });
    const refused = await bob.result('s1');
    expect(refused).toMatchObject({ ok: true, data: { added: [], refused: [{ channel: 'board-2' }] } });
    expect(refused.data.refused[0].error.code).toBe('forbidden');

    await hub.channel('board-2').publish('tick', 2002);
    await hub.channel('board-1').publish('tick', 1001);
    await bob.next((f) => f.type === 'event' && f.data === 1001);
    bob.send({ type: 'command', id: 'c1', command: 'bump', channel: 'board-2', data: { by: 1 } });
    bob.send({ type: 'command', id: 'c2', command: 'bump', channel: 'board-1', data: { by: 1 } });
    bob.send({ type: 'command', id: 'c3', command: 'bump', data: { by: 1 } });
    expect((await bob.result('c1')).error.code).toBe('forbidden');
    expect((await bob.result('c2')).data).toEqual({ channel: 'board-1' });
    expect((await bob.result('c3')).error.code).toBe('forbidden'); // the default channel
    expect(ran).toEqual(['board-1:bob']);
    // Naming no channels asks for the default channel, which bob may not see: refused before the upgrade.
    await expect(TestClient.open(url('user=bob'))).rejects.toThrow('403');

    const resumed = await TestClient.open(url(`user=bob&channels=board-1,board-2&lastEventId=${first}`));
    await resumed.next((f) => f.type === 'event' && f.data === 1001);
    for (const client of [bob, resumed]) {
      expect(JSON.stringify(client.frames)).not.toMatch(/2002|v2-secret/);
      expect(
        client.frames
          .filter((f) => JSON.stringify(f).includes('board-2'))
          .every((f) => f.type === 'forbidden' || f.type === 'result'),
      ).toBe(true);
    }
    await env.close();
  });

  it('subscribe/unsubscribe change the set in place, answered by result; a connection naming no channels keeps its frames', async () => {
    const env = await fleetSetup();
    const { hub, url } = env;
    await hub.channel('board-2').publish('tick', 5);
    const carol = await TestClient.open(url('user=carol&channels='));
    carol.send({ type: 'subscribe', id: 1, channels: ['board-2'] });
    expect((await carol.result(1)).data).toEqual({ added: ['board-2'], refused: [] });
    const snapshot = await carol.next((f) => f.type === 'snapshot' && f.channel === 'board-2');
    expect(snapshot.data).toEqual({ ticks: 1, last: 5 });
    expect(snapshot.id).toBe(hub.headId);
    await hub.channel('board-2').publish('tick', 6);
    await carol.next((f) => f.type === 'event' && f.channel === 'board-2' && f.data === 6);
    carol.send({ type: 'unsubscribe', id: 2, channels: ['board-2', 'board-9'] });
    expect((await carol.result(2)).data).toEqual({ removed: ['board-2'] });
    await hub.channel('board-2').publish('tick', 7);
    carol.send({ type: 'ping', id: 'p' });
    await carol.next((f) => f.type === 'pong');
    expect(JSON.stringify(carol.frames)).not.toContain('"data":7');

    // No `channels`: the 0.1 stream; subscribe is an error result, the stream unchanged.
    const legacy = await TestClient.open(url('user=alice'));
    await legacy.next((f) => f.type === 'snapshot');
    legacy.send({ type: 'subscribe', id: 'x', channels: ['board-1'] });
    expect((await legacy.result('x')).error.code).toBe('invalid_payload');
    expect(legacy.frames[0]).toEqual({ type: 'snapshot', id: hub.headId, data: { ticks: 0, last: 0 } });
    expect(legacy.frames.some((f) => 'channel' in f)).toBe(false);
    await env.close();
  });

  it('revocation cuts board-2 from a live socket with a forbidden frame; nothing published after reaches it', async () => {
    const env = await fleetSetup();
    const { hub, access, url } = env;
    const carol = await TestClient.open(url('user=carol&channels=board-1,board-2'));
    await waitFor(() => of(carol, 'snapshot').length === 2, 'snapshots');
    access.set('carol', { see: ['board-1'] });
    await hub.invalidateAccess('carol');
    await hub.channel('board-2').publish('tick', 2);
    await hub.channel('board-1').publish('tick', 3);
    await carol.next((f) => f.type === 'event' && f.data === 3);
    const forbidden = carol.frames.findIndex((f) => f.type === 'forbidden');
    expect(carol.frames[forbidden]).toMatchObject({ channel: 'board-2', error: { code: 'forbidden' } });
    expect(forbidden).toBeLessThan(carol.frames.findIndex((f) => f.data === 3));
    expect(carol.frames.some((f) => f.data === 2)).toBe(false);
    // A command to it is refused now too.
    carol.send({ type: 'command', id: 1, command: 'bump', channel: 'board-2', data: { by: 1 } });
    expect((await carol.result(1)).error.code).toBe('forbidden');
    await env.close();
  });

  it('bounds hold against a hostile client: thousands of subscribe frames and ids', async () => {
    // The hub's own bounds: the socket's subscribe budget (subscribe-budget.test.ts) is off here.
    const env = await fleetSetup(
      { maxChannelsPerConnection: 50, maxSubscriptionsPerPrincipal: 80 },
      { channelsPerSecond: 0 },
    );
    const { hub, url } = env;
    const before = hub.channels;
    const hostile = await TestClient.open(url('user=alice&channels='));
    const bystander = await TestClient.open(url('user=carol&channels=board-1'));
    await bystander.next((f) => f.type === 'snapshot');
    const FRAMES = 3000;
    for (let i = 0; i < FRAMES; i++) {
      const ids = Array.from({ length: 20 }, (_, j) => `h${i}-${j}`);
      hostile.send({ type: 'subscribe', id: i, channels: ids });
    }
    // A frame naming more than 1000 channels is refused whole.
    hostile.send({ type: 'subscribe', id: 'big', channels: Array.from({ length: 1001 }, (_, j) => `b${j}`) });
    await waitFor(
      () => hostile.frames.filter((f) => f.type === 'result').length === FRAMES + 1,
      'every subscribe answered',
      30_000,
    );
    expect((await hostile.result('big')).error.code).toBe('invalid_payload');
    const results = hostile.frames.filter((f) => f.type === 'result' && f.id !== 'big');
    const added = results.flatMap((r) => (r.ok ? r.data.added : []));
    expect(added.length).toBe(50);
    const codes = new Set(
      results.flatMap((r) => (r.ok ? r.data.refused.map((x: Frame) => x.error.code) : [r.error.code])),
    );
    expect([...codes].every((code) => code === 'too_many_channels' || code === 'too_many_requests')).toBe(true);
    // No channel was created; the bystander and the hostile socket still work.
    expect(hub.channels).toEqual(before);
    await hub.channel('board-1').publish('tick', 1);
    await bystander.next((f) => f.type === 'event' && f.data === 1);
    hostile.send({ type: 'ping', id: 'alive' });
    await hostile.next((f) => f.type === 'pong');
    expect(env.endpoint.clientCount).toBe(2);
    await env.close();
  });

  it('a credential that expires closes the socket at expiresAt with 1008 after an unauthorized error', async () => {
    const env = await fleetSetup();
    const { url, disconnects } = env;
    const at = Date.now() + 600;
    const client = await TestClient.open(url(`user=alice&channels=board-1&expiresAt=${at}`));
    await client.next((f) => f.type === 'snapshot');
    const closed = await client.closed;
    expect(Date.now()).toBeGreaterThanOrEqual(at);
    expect(closed.code).toBe(1008);
    expect(client.frames.at(-1)).toEqual({
      type: 'error',
      error: { code: 'unauthorized', message: 'the credential has expired' },
    });
    await waitFor(() => disconnects.length === 1, 'disconnect');
    expect(disconnects[0]?.reason.cause).toBe('expired');
    await expect(TestClient.open(url('user=alice&expiresAt=1'))).rejects.toThrow('401');
    await env.close();
  });

  it("slowClient 'reset' keeps a channel connection's set: reset (slow) and a snapshot per channel, then live", async () => {
    const env = await fleetSetup({ history: 10 }, { highWaterMark: 256 * 1024, slowClient: 'reset' });
    const { hub, url } = env;
    const slow = await TestClient.open(url('user=carol&channels=board-1'));
    await slow.next((f) => f.type === 'snapshot');
    slow.send({ type: 'subscribe', id: 1, channels: ['board-2'] });
    await slow.result(1);
    expect(await lagBehind(env, slow)).toBe(true);
    await hub.channel('board-2').publish('tick', 7);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await slow.next((f) => f.type === 'snapshot' && f.channel === 'board-2' && f.data.last === 7);
    await hub.channel('board-2').publish('tick', 8);
    await slow.next((f) => f.type === 'event' && f.channel === 'board-2' && f.data === 8);
    const resets = slow.frames.filter((f) => f.type === 'reset');
    expect(resets).toEqual([
      { type: 'reset', channel: 'board-1', reason: 'slow' },
      { type: 'reset', channel: 'board-2', reason: 'slow' },
    ]);
    await env.close();
  });
  it('a channel revoked while the socket lagged still gets its forbidden frame, before the restart', async () => {
    const env = await fleetSetup({ history: 10 }, { highWaterMark: 256 * 1024, slowClient: 'reset' });
    const { hub, url, access } = env;
    const slow = await TestClient.open(url('user=carol&channels=board-1,board-2'));
    await waitFor(() => of(slow, 'snapshot').length === 2, 'snapshots');
    expect(await lagBehind(env, slow)).toBe(true);
    access.set('carol', { see: ['board-1'] });
    await hub.invalidateAccess('carol');
    await hub.channel('board-2').publish('tick', 99);
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await slow.next((f) => f.type === 'reset');
    await hub.channel('board-1').publish('tick', 5);
    await slow.next((f) => f.type === 'event' && f.data === 5);
    const from = slow.frames.findIndex((f) => f.type === 'forbidden');
    expect(slow.frames[from]).toMatchObject({ channel: 'board-2', error: { code: 'forbidden' } });
    expect(slow.frames.slice(from + 1).filter((f) => f.type === 'reset')).toEqual([
      { type: 'reset', channel: 'board-1', reason: 'slow' },
    ]);
    expect(slow.frames.some((f) => f.data === 99)).toBe(false);
    await env.close();
  });
});
