import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { EventSource } from 'eventsource';
import express from 'express';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { endAll } from '../../../test-support/end-all.js';
import { createCommandEndpoint, createSseEndpoint, type SseEndpoint, type SseEndpointOptions } from '../src/index.js';
import { listen, makeHub, openStream, type StreamReader, summary, type TestServer, waitFor } from './helpers.js';

let server: TestServer | undefined;
let hub: ReturnType<typeof makeHub>;
let sse: SseEndpoint | undefined;
const readers: StreamReader[] = [];
const sources: EventSource[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  await endAll(...readers.splice(0), ...sources.splice(0), ...sockets.splice(0), sse, hub, server);
  server = undefined;
});

function postJson(url: string, body: unknown) {
  return fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
}

/** Every framework gets the same checks: stream order, replay, commands and errors. */
async function exercise(base: string, { ownErrors = true } = {}) {
  const reader = await openStream(`${base}/api/events?events=led`);
  readers.push(reader);
  expect(reader.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
  expect(reader.response.headers.get('cache-control')).toBe('no-cache, no-transform');
  await waitFor(() => reader.messages.length === 1, 'snapshot');

  const response = await postJson(`${base}/api/commands/led`, { state: 'on' });
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ on: true });
  await hub.publish('time', 'filtered out');
  await postJson(`${base}/api/commands/led`, { state: 'toggle' });
  const leds = () => reader.messages.filter((m) => m.event === 'led');
  await waitFor(() => leds().length === 2, 'two led events');
  expect(summary(reader.messages.slice(0, 1))).toEqual(['snapshot:{"led":{"on":false}}']);
  expect(summary(leds())).toEqual(['led:{"on":true}', 'led:{"on":false}']);

  // The WHATWG client against the same mount, resuming from the first event.
  const received: string[] = [];
  const source = new EventSource(
    `${base}/api/events?events=led&lastEventId=${encodeURIComponent(leds()[0]?.id ?? '')}`,
  );
  sources.push(source);
  source.addEventListener('led', (e) => received.push(e.data));
  // (A replay may carry the state as of each setState as `snapshot` frames; only led events count here.)
  await waitFor(() => received.length === 1, 'replayed event');
  expect(received).toEqual(['{"on":false}']);

  const bad = await fetch(`${base}/api/commands/led`, {
    method: 'POST',
    body: '{',
    headers: { 'Content-Type': 'application/json' },
  });
  expect(bad.status).toBe(400);
  // Fastify's own JSON parser answers malformed JSON itself, in its own format.
  if (ownErrors) expect((await bad.json()).error.code).toBe('invalid_payload');
  const unknown = await postJson(`${base}/api/commands/nope`, {});
  expect(unknown.status).toBe(404);
}

describe('Express', () => {
  it('mounts the node handlers on routes', async () => {
    hub = makeHub();
    sse = createSseEndpoint(hub);
    const commands = createCommandEndpoint(hub);
    const app = express();
    app.get('/api/events', sse.node);
    app.post('/api/commands/:name', commands.node);
    server = await listen(createServer(app));
    await exercise(server.url);
  });

  it('accepts a body that express.json() already parsed, still refusing __proto__', async () => {
    hub = makeHub();
    const commands = createCommandEndpoint(hub);
    const app = express();
    app.use(express.json());
    app.post('/api/commands/:name', commands.node);
    server = await listen(createServer(app));
    const ok = await postJson(`${server.url}/api/commands/echo`, { a: 1 });
    expect(await ok.json()).toEqual({ a: 1 });
    const evil = await fetch(`${server.url}/api/commands/echo`, {
      method: 'POST',
      body: '{"__proto__":{"x":1}}',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(evil.status).toBe(400);
  });
});

describe('Fastify (body parsing left on)', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    // Streams first: a server's close() waits for open responses.
    for (const source of sources.splice(0)) source.close();
    await sse?.close();
    await app?.close();
    app = undefined;
  });

  async function fastifyServer(options: FastifyServerOptions = {}) {
    hub = makeHub();
    sse = createSseEndpoint(hub);
    const commands = createCommandEndpoint(hub);
    app = Fastify(options);
    app.get('/api/events', sse.fastify);
    app.post('/api/commands/:name', commands.fastify);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    return `http://127.0.0.1:${port}`;
  }

  it('runs a JSON command from the body Fastify already parsed and streams its event', async () => {
    const base = await fastifyServer();
    await exercise(base, { ownErrors: false });
  });

  it('keeps the strict body rules on a Fastify-parsed body: byte limit, media type, no __proto__', async () => {
    // Fastify's own JSON parser would answer a __proto__ key itself (onProtoPoisoning: 'error');
    // told to let such keys through, the body it parsed must still be refused by the endpoint's rules.
    const base = await fastifyServer({ onProtoPoisoning: 'ignore', onConstructorPoisoning: 'ignore' });
    // Each refused body would switch the LED on if it reached the handler.
    // Under Fastify's 1 MiB bodyLimit, so Fastify parses it; over the endpoint's 64 KiB.
    const big = await postJson(`${base}/api/commands/led`, { state: 'on', x: 'y'.repeat(70_000) });
    expect(big.status).toBe(413);
    expect((await big.json()).error.code).toBe('payload_too_large');
    // Fastify parses text/plain too; the endpoint still takes JSON only.
    const form = await fetch(`${base}/api/commands/led`, {
      method: 'POST',
      body: '{"state":"on"}',
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(form.status).toBe(415);
    expect((await form.json()).error.code).toBe('unsupported_media_type');
    for (const body of [
      '{"state":"on","a":{"__proto__":{"x":1}}}',
      '{"state":"on","constructor":{"prototype":{"x":1}}}',
    ]) {
      const evil = await fetch(`${base}/api/commands/led`, {
        method: 'POST',
        body,
        headers: { 'Content-Type': 'application/json' },
      });
      expect(evil.status).toBe(400);
      expect((await evil.json()).error.code).toBe('invalid_payload');
    }
    expect(hub.state.led.on).toBe(false);
    // The same route takes a clean body.
    const ok = await postJson(`${base}/api/commands/led`, { state: 'on' });
    expect(await ok.json()).toEqual({ on: true });
    expect(hub.state.led.on).toBe(true);
  });
});

describe('Hono (fetch handler on @hono/node-server)', () => {
  async function honoServer(options: SseEndpointOptions = {}) {
    hub = makeHub(10);
    sse = createSseEndpoint(hub, { highWaterMark: 64 * 1024, slowClient: 'disconnect', ...options });
    const endpoint = sse;
    const commands = createCommandEndpoint(hub);
    const app = new Hono();
    app.get('/api/events', (c) => endpoint.fetch(c.req.raw, { remoteAddress: getConnInfo(c).remote.address }));
    app.post('/api/commands/:name', (c) => commands.fetch(c.req.raw));
    const started = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
    });
    server = await listen(started);
    return server.url;
  }

  it('serves the same endpoint as a Fetch handler', async () => {
    const base = await honoServer();
    await exercise(base);
    expect(sse?.clients().map((c) => c.adapter)).toEqual(['fetch', 'fetch']);
    // A client going away is seen through the stream's cancel / the request's abort.
    for (const reader of readers) reader.close();
    for (const source of sources) source.close();
    await waitFor(() => sse?.clientCount === 0, 'clients gone');
    expect(hub.subscriberCount).toBe(0);
  });

  it('caps streams per address on the Fetch adapter when the runtime passes the address', async () => {
    const base = await honoServer({ maxClientsPerAddress: 1 });
    const first = await openStream(`${base}/api/events`);
    readers.push(first);
    await waitFor(() => first.messages.length === 1, 'snapshot');
    expect(sse?.clients().map((c) => c.remoteAddress)).toEqual(['127.0.0.1']);
    const second = await openStream(`${base}/api/events`);
    readers.push(second);
    expect(second.response.status).toBe(503);
    expect((await second.response.json()).error.code).toBe('too_many_clients');
  });

  it('drops a client that stops reading from the Fetch stream while others keep receiving', async () => {
    const base = await honoServer();
    const endpoint = sse as SseEndpoint;
    const reader = await openStream(`${base}/api/events`);
    readers.push(reader);
    await waitFor(() => reader.messages.length === 1, 'snapshot');
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    sockets.push(socket);
    socket.pause();
    socket.write('GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await waitFor(() => endpoint.clientCount === 2, 'stalled client connected');
    const slow = endpoint.clients()[1];
    let reason: string | undefined;
    endpoint.on('disconnect', (client, why) => {
      if (client === slow) reason = why;
    });
    // The drop is reported as an event (below), not as a stack printed by the runtime.
    const errorLog = vi.spyOn(console, 'error');
    const blob = 'z'.repeat(16 * 1024);
    let published = 0;
    while (reason === undefined && published < 5000) {
      await hub.publish('blob', blob);
      published++;
      const deadline = Date.now() + 10_000;
      while (reader.messages.length < published + 1) {
        if (reader.ended || Date.now() > deadline) throw new Error('normal client fell behind');
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    expect(reason).toBe('slow');
    await hub.publish('time', 'tick');
    await waitFor(() => reader.messages.at(-1)?.data === '"tick"', 'a write after the drop');
    expect(errorLog).not.toHaveBeenCalled();
    errorLog.mockRestore();
    expect(slow?.peakBufferedBytes).toBeLessThanOrEqual(64 * 1024 + blob.length + 256);
    await hub.publish('time', 'after');
    await waitFor(() => reader.messages.at(-1)?.data === '"after"', 'normal client still live');
    expect(reader.messages).toHaveLength(published + 3);
  }, 60_000);
});
