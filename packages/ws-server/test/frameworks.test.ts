import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { createWsEndpoint, type WsEndpoint } from '../src/index.js';
import { closeAll, makeHub, TestClient } from './helpers.js';

let endpoint: WsEndpoint | undefined;
let stop: (() => Promise<void>) | undefined;

afterEach(async () => {
  await endpoint?.close();
  await closeAll();
  await stop?.();
  endpoint = undefined;
  stop = undefined;
});

describe('Hono on @hono/node-server', () => {
  it('takes the server serve() returns as it is typed (no cast), beside Hono routes, and runs a command', async () => {
    const hub = makeHub();
    const app = new Hono();
    app.get('/', (c) => c.text('page'));
    const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
        resolve({ server: s, port: info.port }),
      );
    });
    stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
    // The point of this test for the types: `server` is Hono's ServerType union, passed as is.
    endpoint = createWsEndpoint(hub, { server, path: '/api/ws' });

    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('page');
    const client = await TestClient.open(`ws://127.0.0.1:${port}/api/ws`);
    await client.next((f) => f.type === 'snapshot');
    client.send({ type: 'command', id: 1, command: 'led', data: { state: 'on' } });
    expect((await client.result(1)).data).toEqual({ on: true });
    const event = await client.next((f) => f.type === 'event' && f.event === 'led');
    expect(event.data).toEqual({ on: true });
  });
});
