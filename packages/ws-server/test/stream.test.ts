import type { EncodedEvent } from '@boardcast/core/wire';
import { afterEach, describe, expect, it } from 'vitest';
import type { WsClientInfo, WsDisconnectReason } from '../src/index.js';
import { closeAll, makeHub, refusal, setup, TestClient, waitFor } from './helpers.js';

afterEach(closeAll);

describe('event stream', () => {
  it('sends the snapshot first, then the very frame the hub encoded, to every socket', async () => {
    const { hub, url } = await setup();
    const published: EncodedEvent[] = [];
    hub.on('publish', (event) => published.push(event));
    const a = await TestClient.open(url);
    const b = await TestClient.open(url);
    await a.next((f) => f.type === 'snapshot');
    await b.next((f) => f.type === 'snapshot');

    const id = await hub.publish('time', '12:00');
    await hub.publish('led', { on: true });
    await waitFor(() => a.frames.length === 3 && b.frames.length === 3, 'three frames each');

    expect(a.frames[0]).toEqual({ type: 'snapshot', id: hub.bus.originId, data: { led: { on: false } } });
    expect(a.frames[1]).toEqual({ type: 'event', event: 'time', id, data: '12:00' });
    // Byte-for-byte the hub's one serialization, on both sockets.
    expect(a.raw.slice(1)).toEqual(published.map((e) => e.ws));
    expect(b.raw).toEqual(a.raw);
  });

  it('snapshot carries the head id so a later resume starts from it', async () => {
    const { hub, url } = await setup();
    const head = await hub.publish('time', 't0');
    const client = await TestClient.open(url);
    const snapshot = await client.next((f) => f.type === 'snapshot');
    expect(snapshot.id).toBe(head);
  });

  it('resumes with ?lastEventId= with exactly the missed events, then live ones', async () => {
    const { hub, url } = await setup();
    const first = await hub.publish('time', 't1');
    const second = await hub.publish('led', { on: true });
    const third = await hub.publish('time', 't2');
    const client = await TestClient.open(`${url}?lastEventId=${encodeURIComponent(first)}`);
    await waitFor(() => client.frames.length === 2, 'replayed events');
    const fourth = await hub.publish('time', 't3');
    await waitFor(() => client.frames.length === 3, 'live event');
    expect(client.frames.map((f) => [f.type, f.id])).toEqual([
      ['event', second],
      ['event', third],
      ['event', fourth],
    ]);
  });

  it('sends reset and a fresh snapshot when the missed events left history', async () => {
    const { hub, url } = await setup({}, makeHub({ history: 2 }));
    const first = await hub.publish('time', 't1');
    await hub.publish('time', 't2');
    await hub.publish('time', 't3');
    const head = await hub.publish('time', 't4');
    const client = await TestClient.open(`${url}?lastEventId=${encodeURIComponent(first)}`);
    await waitFor(() => client.frames.length === 2, 'reset and snapshot');
    expect(client.frames).toEqual([
      { type: 'reset', reason: 'history' },
      { type: 'snapshot', id: head, data: { led: { on: false } } },
    ]);
  });

  it('treats a resume id it will not use (malformed, foreign, over-long) as a gap: reset + snapshot, never a refusal', async () => {
    const { hub, url } = await setup();
    const head = await hub.publish('time', 't1');
    for (const id of ['x'.repeat(5000), 'garbage', '-', '1-', 'other-epoch-7']) {
      const client = await TestClient.open(`${url}?lastEventId=${encodeURIComponent(id)}`);
      await waitFor(() => client.frames.length === 2, `reset and snapshot for ${id.slice(0, 10)}`);
      expect(client.frames).toEqual([
        { type: 'reset', reason: 'history' },
        { type: 'snapshot', id: head, data: { led: { on: false } } },
      ]);
      client.ws.close();
    }
  });

  it('filters events with ?events=a,b like SSE does', async () => {
    const { hub, url } = await setup();
    const client = await TestClient.open(`${url}?events=time,blob`);
    await client.next((f) => f.type === 'snapshot');
    await hub.publish('led', { on: true });
    await hub.publish('time', 'kept');
    await hub.publish('blob', 'kept too');
    await waitFor(() => client.events().length === 2, 'filtered events');
    expect(client.events().map((f) => f.event)).toEqual(['time', 'blob']);
  });

  it('refuses an unknown event name in ?events= before upgrading', async () => {
    const { url, endpoint } = await setup();
    const { status, body } = await refusal(`${url}?events=time,nope`);
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_payload');
    expect(body.error.message).toContain('nope');
    expect(endpoint.clientCount).toBe(0);
  });

  it('reports connect and disconnect once per socket and counts clients', async () => {
    const { url, endpoint } = await setup();
    const log: string[] = [];
    let reason: WsDisconnectReason | undefined;
    endpoint.on('connect', (client: WsClientInfo) => log.push(`connect ${client.id}`));
    endpoint.on('disconnect', (client, why) => {
      log.push(`disconnect ${client.id}`);
      reason = why;
    });
    const client = await TestClient.open(`${url}?events=led`);
    await waitFor(() => endpoint.clientCount === 1, 'one client');
    client.ws.close(4000, 'bye');
    await waitFor(() => endpoint.clientCount === 0, 'no client');
    expect(log).toEqual(['connect ws-1', 'disconnect ws-1']);
    expect(reason).toEqual({ code: 4000, reason: 'bye', cause: 'client' });
  });
});
