import { createServer } from 'node:http';
import { createSseEndpoint } from '@boardcast/sse-server';
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { createWsEndpoint } from '../src/index.js';
import { closeAll, listen, makeHub, TestClient, waitFor } from './helpers.js';

afterEach(closeAll);

describe('one hub, two transports', () => {
  it('delivers one publish to an SSE client and a WS client with the same id', async () => {
    const hub = makeHub();
    const sse = createSseEndpoint(hub, { keepAliveMs: 0 });
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/events')) sse.node(req, res);
      else res.writeHead(404).end();
    });
    const ws = createWsEndpoint(hub, { server, path: '/ws' });
    const port = await listen(server);

    const received: Array<{ id: string; data: string }> = [];
    const source = new EventSource(`http://127.0.0.1:${port}/events`);
    source.addEventListener('time', (event) => received.push({ id: event.lastEventId, data: event.data }));
    const client = await TestClient.open(`ws://127.0.0.1:${port}/ws`);
    try {
      await waitFor(() => sse.clientCount === 1 && ws.clientCount === 1, 'both clients');
      await client.next((f) => f.type === 'snapshot');

      const id = await hub.publish('time', 'both');
      await waitFor(() => received.length === 1, 'the SSE event');
      const frame = await client.next((f) => f.type === 'event');
      expect(received[0]).toEqual({ id, data: '"both"' });
      expect(frame).toEqual({ type: 'event', event: 'time', id, data: 'both' });

      // And a command over WS reaches SSE clients as the event it publishes.
      client.send({ type: 'command', id: 1, command: 'led', data: { state: 'on' } });
      const ledOverSse = new Promise<{ id: string; data: string }>((resolve) =>
        source.addEventListener('led', (event) => resolve({ id: event.lastEventId, data: event.data })),
      );
      const ledOverWs = await client.next((f) => f.type === 'event' && f.event === 'led');
      expect(await ledOverSse).toEqual({ id: ledOverWs.id, data: '{"on":true}' });
    } finally {
      source.close();
      await ws.close();
      await sse.close();
    }
  });
});
