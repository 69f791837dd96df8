import { createServer } from 'node:http';
import { type Authorize, BoardcastError, createHub } from '@boardcast/core';
import { boardcastHttp, createSseEndpoint } from '@boardcast/sse-server';
import { EventSource } from 'eventsource';
import { afterEach, describe, expect, it } from 'vitest';
import { createWsEndpoint, type WsRejection } from '../src/index.js';
import { closeAll, contract, listen, makeHub, refusal, TestClient, waitFor } from './helpers.js';

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

  it('one authorize hook guards the SSE stream, HTTP commands and WebSocket alike, with the same context.auth', async () => {
    const hub = createHub(contract, { state: { led: { on: false } } });
    const seenAuth: Array<{ transport: string; auth: unknown }> = [];
    hub.handle('whoami', (_input, context) => {
      seenAuth.push({ transport: context.transport, auth: context.auth });
      return { auth: context.auth, clientId: context.clientId ?? null, transport: context.transport };
    });
    // One session object per token: both transports must hand handlers this very object.
    const session = { user: 'ada', role: 'admin' };
    const methods: string[] = [];
    const authorize: Authorize = async (request) => {
      methods.push(request.method);
      const token = request.header('Authorization') ?? `Bearer ${request.url.searchParams.get('token') ?? ''}`;
      if (token === 'Bearer s3cret') return session;
      if (token === 'Bearer revoked') throw new BoardcastError('forbidden', 'token revoked');
      return false;
    };
    const api = boardcastHttp(hub, { base: '/api', authorize, sse: { keepAliveMs: 0 } });
    const server = createServer((req, res) => api.node(req, res));
    const ws = createWsEndpoint(hub, { server, path: '/api/ws', authorize });
    const port = await listen(server);
    const base = `http://127.0.0.1:${port}/api`;
    const sseRejects: string[] = [];
    const commandRejects: string[] = [];
    const wsRejects: WsRejection[] = [];
    api.sse.on('reject', (error) => sseRejects.push(error.code));
    api.commands.on('reject', (error) => commandRejects.push(error.code));
    ws.on('reject', (rejection) => wsRejects.push(rejection));
    const whoami = (headers: Record<string, string>) =>
      fetch(`${base}/commands/whoami`, {
        method: 'POST',
        body: 'null',
        headers: { 'Content-Type': 'application/json', ...headers },
      });
    try {
      // No token: 401 unauthorized on every transport, and nothing reaches a handler.
      const stream = await fetch(`${base}/events`);
      expect(stream.status).toBe(401);
      expect(await stream.json()).toMatchObject({ error: { code: 'unauthorized' } });
      const command = await whoami({});
      expect(command.status).toBe(401);
      expect(await command.json()).toMatchObject({ error: { code: 'unauthorized' } });
      const upgrade = await refusal(`ws://127.0.0.1:${port}/api/ws`);
      expect(upgrade).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
      // A thrown BoardcastError keeps its status on both.
      expect((await whoami({ Authorization: 'Bearer revoked' })).status).toBe(403);
      expect(
        (await refusal(`ws://127.0.0.1:${port}/api/ws`, { headers: { Authorization: 'Bearer revoked' } })).status,
      ).toBe(403);
      expect(sseRejects).toEqual(['unauthorized']);
      expect(commandRejects).toEqual(['unauthorized', 'forbidden']);
      expect(wsRejects.map((r) => `${r.status} ${r.code}`)).toEqual(['401 unauthorized', '403 forbidden']);
      expect(seenAuth).toEqual([]);

      // The right token: the stream opens, and a command over each transport sees the same auth.
      const controller = new AbortController();
      const open = await fetch(`${base}/events?token=s3cret`, { signal: controller.signal });
      expect(open.status).toBe(200);
      const reader = (open.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while (!text.includes('event: snapshot')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toContain('data: {"led":{"on":false}}');
      await waitFor(() => api.sse.clientCount === 1, 'the SSE stream');
      expect(api.sse.clients()[0]?.auth).toBe(session);

      const overHttp = await whoami({ Authorization: 'Bearer s3cret' });
      expect(overHttp.status).toBe(200);
      const client = await TestClient.open(`ws://127.0.0.1:${port}/api/ws`, {
        headers: { authorization: 'Bearer s3cret' },
      });
      expect(ws.clients()[0]?.auth).toBe(session);
      client.send({ type: 'command', id: 1, command: 'whoami', data: null });
      const overWs = await client.result(1);
      expect(overWs).toMatchObject({ ok: true, data: { auth: session, transport: 'ws' } });
      expect(await overHttp.json()).toMatchObject({ auth: session, transport: 'http' });
      expect(seenAuth.map((seen) => seen.transport)).toEqual(['http', 'ws']);
      expect(seenAuth[0]?.auth).toBe(session);
      expect(seenAuth[1]?.auth).toBe(session);
      expect(methods).toEqual(['GET', 'POST', 'GET', 'POST', 'GET', 'GET', 'POST', 'GET']);

      await reader.cancel().catch(() => undefined);
      controller.abort();
    } finally {
      await ws.close();
      api.close();
      await hub.close();
    }
  });
});
