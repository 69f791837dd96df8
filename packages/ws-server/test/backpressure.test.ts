import { randomBytes } from 'node:crypto';
import type { SlowClientPolicy } from '@boardcast/core/server';
import { afterEach, describe, expect, it } from 'vitest';
import type { WsDisconnectReason } from '../src/index.js';
import { TestClient as Client, closeAll, type Setup, setup, type TestClient, waitFor } from './helpers.js';

afterEach(closeAll);

const BIG = 'x'.repeat(64 * 1024);

function pause(client: TestClient): void {
  // Stop reading: the kernel buffers fill up, then the server's send buffer grows.
  (client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
}

function resume(client: TestClient): void {
  (client.ws as unknown as { _socket: { resume(): void } })._socket.resume();
}

/** Publish large events until the endpoint reports backpressure; returns the ids published. */
async function floodUntilBackpressure(
  { hub, endpoint }: Setup,
  reader: TestClient,
  payload: () => string = () => BIG,
): Promise<{ ids: string[]; policy: SlowClientPolicy }> {
  let policy: SlowClientPolicy | undefined;
  const off = endpoint.on('backpressure', (_client, p) => {
    policy = p;
  });
  const ids: string[] = [];
  for (let i = 0; i < 5000 && policy === undefined; i++) {
    ids.push(await hub.publish('blob', payload()));
    // Let the reading client drain as it would in real life.
    await new Promise((resolve) => setImmediate(resolve));
    await waitFor(() => reader.events().length >= ids.length - 8, 'the reading client to keep up');
  }
  off();
  if (!policy) throw new Error('backpressure never triggered');
  return { ids, policy };
}

describe('backpressure', () => {
  it('reset policy: stops a stalled client, keeps others flowing, then resyncs it with reset + snapshot', async () => {
    const env = await setup({ highWaterMark: 256 * 1024, slowClient: 'reset' });
    const { hub, url } = env;
    const slow = await Client.open(url);
    const fast = await Client.open(url);
    await slow.next((f) => f.type === 'snapshot');
    await fast.next((f) => f.type === 'snapshot');
    pause(slow);

    const { ids, policy } = await floodUntilBackpressure(env, fast);
    expect(policy).toBe('reset');
    // The stalled socket is no longer fed: nothing more is queued for it.
    expect(hub.subscriberCount).toBe(1);
    for (let i = 0; i < 20; i++) ids.push(await hub.publish('blob', BIG));
    await waitFor(() => fast.events().length === ids.length, 'the fast client to get every event');
    expect(fast.events().map((f) => f.id)).toEqual(ids);

    hub.setState({ led: { on: true } });
    resume(slow);
    const snapshot = await slow.next((f) => f.type === 'snapshot', 1);
    const resetIndex = slow.frames.findIndex((f) => f.type === 'reset');
    expect(slow.frames[resetIndex]).toEqual({ type: 'reset', reason: 'backpressure' });
    expect(slow.frames[resetIndex + 1]).toBe(snapshot);
    expect(snapshot.data).toEqual({ led: { on: true } });
    // The snapshot is as new as the hub (setState may have taken an id of its own).
    expect(snapshot.id).toBe(hub.headId);
    // What it did get before the reset is an in-order prefix of the stream.
    const before = slow.frames.slice(1, resetIndex).map((f) => f.id);
    expect(before).toEqual(ids.slice(0, before.length));
    expect(before.length).toBeLessThan(ids.length);

    // And it is live again.
    const next = await hub.publish('time', 'caught up');
    expect((await slow.next((f) => f.id === next)).data).toBe('caught up');
    expect(hub.subscriberCount).toBe(2);
  });

  it('close policy: closes a stalled client with 1013 while another keeps receiving', async () => {
    const env = await setup({ highWaterMark: 256 * 1024, slowClient: 'disconnect', closeTimeoutMs: 15_000 });
    const { hub, url, endpoint } = env;
    const reasons: WsDisconnectReason[] = [];
    endpoint.on('disconnect', (_client, reason) => reasons.push(reason));
    const slow = await Client.open(url);
    const fast = await Client.open(url);
    await slow.next((f) => f.type === 'snapshot');
    pause(slow);

    const { ids, policy } = await floodUntilBackpressure(env, fast);
    expect(policy).toBe('disconnect');
    expect(hub.subscriberCount).toBe(1);
    const last = await hub.publish('time', 'still flowing');
    expect((await fast.next((f) => f.id === last)).data).toBe('still flowing');
    expect(fast.events()).toHaveLength(ids.length + 1);

    resume(slow);
    const closed = await slow.closed;
    expect(closed.code).toBe(1013);
    await waitFor(() => reasons.length === 1, 'disconnect');
    expect(reasons[0]).toMatchObject({ code: 1013, cause: 'backpressure' });
  });
});

describe('backpressure with permessage-deflate (frames go through ws send(), not the raw socket)', () => {
  // Random base64 barely compresses, so the compressed backlog grows like the raw one would.
  // 16 KiB a frame: the reading client, up to 8 frames behind, stays well under the mark.
  const incompressible = () => randomBytes(12 * 1024).toString('base64');

  it('reset policy: stops the stalled client, keeps the other flowing, resyncs it after', async () => {
    const env = await setup({ highWaterMark: 256 * 1024, slowClient: 'reset', perMessageDeflate: true });
    const { hub, url } = env;
    const slow = await Client.open(url, { perMessageDeflate: true });
    const fast = await Client.open(url, { perMessageDeflate: true });
    expect(slow.ws.extensions).toContain('permessage-deflate');
    await slow.next((f) => f.type === 'snapshot');
    await fast.next((f) => f.type === 'snapshot');
    pause(slow);

    const { ids, policy } = await floodUntilBackpressure(env, fast, incompressible);
    expect(policy).toBe('reset');
    expect(hub.subscriberCount).toBe(1);
    await waitFor(() => fast.events().length === ids.length, 'the fast client to get every event');

    resume(slow);
    const resetAt = (await slow.next((f) => f.type === 'reset')) as { reason: string };
    expect(resetAt.reason).toBe('backpressure');
    const next = await hub.publish('time', 'caught up');
    expect((await slow.next((f) => f.id === next)).data).toBe('caught up');
  }, 60_000);

  it('disconnect policy: closes the stalled client with 1013', async () => {
    const env = await setup({ highWaterMark: 256 * 1024, slowClient: 'disconnect', perMessageDeflate: true });
    const slow = await Client.open(env.url, { perMessageDeflate: true });
    const fast = await Client.open(env.url, { perMessageDeflate: true });
    await slow.next((f) => f.type === 'snapshot');
    pause(slow);
    const { policy } = await floodUntilBackpressure(env, fast, incompressible);
    expect(policy).toBe('disconnect');
    resume(slow);
    expect((await slow.closed).code).toBe(1013);
  }, 60_000);
});

describe('inbound flow control', () => {
  it('stops reading from a client that sends without reading the answers, then answers everything', async () => {
    const { url } = await setup({ highWaterMark: 64 * 1024 });
    const client = await Client.open(url);
    await client.next((f) => f.type === 'snapshot');
    pause(client);
    const pad = 'p'.repeat(100);
    let sent = 0;
    // Only if the server stops reading does the client's own send buffer grow:
    // a server that kept reading would queue pongs in its memory instead.
    for (let batch = 0; batch < 3000 && client.ws.bufferedAmount < 1024 * 1024; batch++) {
      for (let i = 0; i < 200; i++) client.send({ type: 'ping', id: `${sent++}-${pad}` });
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(client.ws.bufferedAmount).toBeGreaterThanOrEqual(1024 * 1024);

    resume(client);
    await waitFor(() => client.frames.length === sent + 1, `${sent} pongs`, 60_000);
    const ids = client.frames.slice(1).map((f) => Number.parseInt(String(f.id), 10));
    expect(ids).toEqual(Array.from({ length: sent }, (_, i) => i));
  }, 90_000);
});
