// boardcastHttp's routing: the path alone picks the endpoint (Express's
// originalUrl when mounted under a prefix), other paths go to next() or 404.
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { endAll } from '../../../test-support/end-all.js';
import { type BoardcastHttp, boardcastHttp } from '../src/index.js';
import { listen, makeHub, openStream, type StreamReader, summary, type TestServer, waitFor } from './helpers.js';

let server: TestServer | undefined;
let hub: ReturnType<typeof makeHub> | undefined;
let api: BoardcastHttp | undefined;
const readers: StreamReader[] = [];

afterEach(async () => {
  await endAll(...readers.splice(0), api, hub, server);
  server = undefined;
  api = undefined;
  hub = undefined;
});

function postJson(url: string, body: unknown) {
  return fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
}

/** The stream, a command and the directory answer under `base`; `/elsewhere` is not routed. */
async function exercise(base: string) {
  const reader = await openStream(`${base}/api/events?events=led`);
  readers.push(reader);
  await waitFor(() => reader.messages.length === 1, 'snapshot');
  expect(summary(reader.messages)).toEqual(['snapshot:{"led":{"on":false}}']);
  const command = await postJson(`${base}/api/commands/led`, { state: 'on' });
  expect(command.status).toBe(200);
  expect(await command.json()).toEqual({ on: true });
  const leds = () => reader.messages.filter((m) => m.event === 'led');
  await waitFor(() => leds().length === 1, 'led event');
  expect(summary(leds())).toEqual(['led:{"on":true}']);
  const directory = await fetch(`${base}/api/directory`);
  expect(directory.status).toBe(200);
  expect(directory.headers.get('content-type')).toContain('application/json');
}

describe('boardcastHttp routing', () => {
  it('Express app.use(api.node): routes its paths, hands every other path to next()', async () => {
    hub = makeHub();
    api = boardcastHttp(hub, { base: '/api' });
    const app = express();
    app.use(api.node);
    app.get('/elsewhere', (_req, res) => {
      res.send('the app');
    });
    server = await listen(app as unknown as Parameters<typeof listen>[0]);
    await exercise(server.url);
    const other = await fetch(`${server.url}/elsewhere`);
    expect(other.status).toBe(200);
    expect(await other.text()).toBe('the app');
  });

  it("Express app.use('/api', api.node): mounted under a prefix, it routes on originalUrl", async () => {
    hub = makeHub();
    api = boardcastHttp(hub, { base: '/api' });
    const app = express();
    // Express strips the mount path from req.url (`/events`): routing on it would miss every route.
    app.use('/api', api.node);
    app.use((_req, res) => {
      res.status(418).send('next');
    });
    server = await listen(app as unknown as Parameters<typeof listen>[0]);
    await exercise(server.url);
    const other = await fetch(`${server.url}/api/other`);
    expect(other.status).toBe(418);
  });

  it('without next, node answers 404 for other paths; fetch answers 404; matches() names the routes', async () => {
    hub = makeHub();
    api = boardcastHttp(hub, { base: '/api' });
    const routes = api;
    server = await listen((req, res) => routes.node(req, res));
    const missing = await fetch(`${server.url}/api/commands/`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('Not Found');
    const viaFetch = await routes.fetch(new Request('http://localhost/api/nothing'));
    expect(viaFetch.status).toBe(404);
    const directory = await routes.fetch(new Request('http://localhost/api/directory'));
    expect(directory.status).toBe(200);
    expect(routes.matches('/api/events')).toBe(true);
    expect(routes.matches('/api/commands/led')).toBe(true);
    expect(routes.matches('/api/commands/')).toBe(false);
    expect(routes.matches('/api/directory')).toBe(true);
    expect(routes.matches('/events')).toBe(false);
  });
});
