import { afterEach, describe, expect, it } from 'vitest';
import { startTcpProxy } from '../../../test-support/tcp-proxy.js';
import type { WsDisconnectReason } from '../src/index.js';
import { closeAll, heldAuthorize, refusal, setup, TestClient, waitFor } from './helpers.js';

afterEach(closeAll);

describe('heartbeat', () => {
  it('terminates a client that stops answering pings, and keeps one that answers', async () => {
    const { url, endpoint } = await setup({ keepAliveMs: 400 });
    const reasons: Array<[string, WsDisconnectReason]> = [];
    endpoint.on('disconnect', (client, reason) => reasons.push([client.id, reason]));
    const silent = await TestClient.open(url, { autoPong: false });
    const healthy = await TestClient.open(url);
    let pings = 0;
    healthy.ws.on('ping', () => pings++);

    const closed = await silent.closed;
    expect(closed.code).toBe(1006); // dropped, not closed politely: it was not listening
    await waitFor(() => reasons.length === 1, 'disconnect');
    expect(reasons[0]).toEqual([
      'ws-1',
      { code: 1006, reason: 'no pong within the heartbeat interval', cause: 'heartbeat' },
    ]);

    await waitFor(() => pings >= 3, 'several pings to the healthy client');
    expect(healthy.ws.readyState).toBe(healthy.ws.OPEN);
    expect(endpoint.clientCount).toBe(1);
  });
});

describe('silent link', () => {
  it('terminates a socket behind a link that stalls without FIN or RST, within two keep-alive intervals of pings', async () => {
    const { port, endpoint } = await setup({ keepAliveMs: 200 });
    const proxy = await startTcpProxy(port);
    try {
      const reasons: WsDisconnectReason[] = [];
      endpoint.on('disconnect', (_client, reason) => reasons.push(reason));
      const client = await TestClient.open(`ws://127.0.0.1:${proxy.port}/ws`);
      await client.next((f) => f.type === 'snapshot');
      proxy.stall();
      await waitFor(() => reasons.length === 1, 'the server to drop the silent socket');
      expect(reasons[0]).toMatchObject({ cause: 'heartbeat' });
      expect(endpoint.clientCount).toBe(0);
    } finally {
      await proxy.close();
    }
  });
});

describe('shutdown', () => {
  it('closes every socket with 1001 and removes its upgrade listener, timers and hub subscriptions', async () => {
    const { url, endpoint, server, hub } = await setup({ keepAliveMs: 50 });
    const before = server.listenerCount('upgrade');
    const hubCloseListeners = hub.listenerCount('close');
    const a = await TestClient.open(url);
    const b = await TestClient.open(`${url}?events=led`);
    await waitFor(() => hub.subscriberCount === 2, 'two subscribers');
    const causes: string[] = [];
    endpoint.on('disconnect', (_client, reason) => causes.push(reason.cause));

    await endpoint.close();
    expect((await a.closed).code).toBe(1001);
    expect((await b.closed).reason).toBe('server shutting down');
    expect(causes).toEqual(['shutdown', 'shutdown']);
    expect(endpoint.clientCount).toBe(0);
    expect(hub.subscriberCount).toBe(0);
    expect(server.listenerCount('upgrade')).toBe(before - 1);
    expect(hub.listenerCount('close')).toBe(hubCloseListeners - 1);
    // Idempotent.
    await endpoint.close();
  });

  it('terminates a socket that does not complete the close handshake in time', async () => {
    const { url, endpoint } = await setup({ closeTimeoutMs: 100 });
    const stuck = await TestClient.open(url);
    await stuck.next((f) => f.type === 'snapshot');
    // A client that never reads never answers our close frame.
    (stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await endpoint.close();
    expect(endpoint.clientCount).toBe(0);
  });

  it('refuses upgrades that finish authorizing after shutdown began', async () => {
    const held = heldAuthorize();
    const { url, endpoint } = await setup({ authorize: held.authorize });
    const pending = refusal(url);
    await waitFor(() => held.calls === 1, 'authorize called');
    const closing = endpoint.close();
    held.release();
    const { status, body } = await pending;
    expect(status).toBe(503);
    expect(body.error.code).toBe('closed');
    await closing;
  });

  it('closes when its hub closes', async () => {
    const { url, endpoint, hub } = await setup();
    const client = await TestClient.open(url);
    await hub.close();
    expect((await client.closed).code).toBe(1001);
    await waitFor(() => endpoint.clientCount === 0, 'no clients');
  });
});
