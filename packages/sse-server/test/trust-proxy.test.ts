/**
 * trustProxy on the SSE stream, the commands and the Host guard, over real
 * sockets: connections from 127.0.0.1 play the proxy, connections bound to
 * 127.0.0.2/127.0.0.3 play clients that are not. The end-to-end run through
 * a real nginx is test/nginx.test.ts.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { endAll } from '../../../test-support/end-all.js';
import { type BoardcastHttp, type BoardcastHttpOptions, boardcastHttp, createHostGuard } from '../src/index.js';
import { listen, makeHub, type TestServer } from './helpers.js';

let server: TestServer | undefined;
let api: BoardcastHttp | undefined;
let hub: ReturnType<typeof makeHub> | undefined;
const open: IncomingMessage[] = [];

afterEach(async () => {
  await endAll(...open.splice(0), api, hub, server);
  server = api = hub = undefined;
});

async function setup(options: BoardcastHttpOptions) {
  hub = makeHub();
  api = boardcastHttp(hub, { base: '/api', ...options });
  const http = api;
  server = await listen((req, res) => http.node(req, res));
  return Number(new URL(server.url).port);
}

/** A request from `localAddress` with the given headers; resolves with the status (streams are kept open). */
function send(
  port: number,
  path: string,
  headers: Record<string, string>,
  options: { localAddress?: string; method?: string; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers, localAddress: options.localAddress },
      (res) => {
        if (res.headers['content-type']?.startsWith('text/event-stream')) {
          open.push(res);
          resolve({ status: res.statusCode ?? 0, body: '' });
          return;
        }
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('trustProxy', () => {
  it('per-address cap counts the forwarded client behind a trusted proxy, not the proxy', async () => {
    const port = await setup({ trustProxy: ['127.0.0.1'], sse: { maxClientsPerAddress: 2 } });
    const via = (client: string) => send(port, '/api/events', { 'X-Forwarded-For': client });
    expect((await via('198.51.100.1')).status).toBe(200);
    expect((await via('198.51.100.1')).status).toBe(200);
    expect((await via('198.51.100.2')).status).toBe(200);
    expect((await via('198.51.100.2')).status).toBe(200);
    // The third stream of one client is refused; the proxy as a whole is not capped at 2.
    const third = await via('198.51.100.1');
    expect(third.status).toBe(503);
    expect(JSON.parse(third.body).error.code).toBe('too_many_clients');
    expect(api?.sse.clientCount).toBe(4);
  });

  it('a spoofed X-Forwarded-For from an untrusted peer is ignored', async () => {
    const port = await setup({ trustProxy: ['127.0.0.1'], sse: { maxClientsPerAddress: 2 } });
    const spoof = (claim: string) =>
      send(port, '/api/events', { 'X-Forwarded-For': claim }, { localAddress: '127.0.0.2' });
    expect((await spoof('203.0.113.1')).status).toBe(200);
    expect((await spoof('203.0.113.2')).status).toBe(200);
    expect((await spoof('203.0.113.3')).status).toBe(503); // all three are 127.0.0.2
    // …and one it appended to through the trusted proxy counts as what the proxy saw.
    expect((await send(port, '/api/events', { 'X-Forwarded-For': '203.0.113.1, 127.0.0.3' })).status).toBe(200);
    expect((await send(port, '/api/events', { 'X-Forwarded-For': '203.0.113.2, 127.0.0.3' })).status).toBe(200);
    expect((await send(port, '/api/events', { 'X-Forwarded-For': '203.0.113.3, 127.0.0.3' })).status).toBe(503);
  });

  it("commands from the page's public origin pass behind the proxy (X-Forwarded-Host/-Proto), and only there", async () => {
    const port = await setup({ trustProxy: ['127.0.0.1'], allowedHosts: ['panel.example.com'] });
    const command = (headers: Record<string, string>, localAddress?: string) =>
      send(
        port,
        '/api/commands/led',
        { 'Content-Type': 'application/json', Origin: 'https://panel.example.com', ...headers },
        { method: 'POST', body: '{"state":"on"}', localAddress },
      );
    const forwarded = {
      'X-Forwarded-For': '198.51.100.7',
      'X-Forwarded-Host': 'panel.example.com',
      'X-Forwarded-Proto': 'https',
    };
    expect(await command(forwarded)).toEqual({ status: 200, body: '{"on":true}' });
    // The same headers from a peer that is no proxy: Host 127.0.0.1, scheme http → a foreign origin.
    const spoofed = await command(forwarded, '127.0.0.2');
    expect(spoofed.status).toBe(403);
    expect(JSON.parse(spoofed.body).error.code).toBe('forbidden_origin');
  });

  it('without trustProxy the forwarded page is refused (before: 403 forbidden_origin behind nginx)', async () => {
    const port = await setup({ allowedHosts: ['panel.example.com'] });
    const res = await send(
      port,
      '/api/commands/led',
      {
        'Content-Type': 'application/json',
        Origin: 'https://panel.example.com',
        'X-Forwarded-Host': 'panel.example.com',
        'X-Forwarded-Proto': 'https',
      },
      { method: 'POST', body: '{"state":"on"}' },
    );
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error.code).toBe('forbidden_origin');
  });

  it('Origin: https://127.0.0.1:<port> and an Origin with a path are refused by an http server', async () => {
    const port = await setup({});
    const command = (origin: string) =>
      send(
        port,
        '/api/commands/led',
        { 'Content-Type': 'application/json', Origin: origin },
        { method: 'POST', body: '{"state":"on"}' },
      );
    expect((await command(`http://127.0.0.1:${port}`)).status).toBe(200);
    for (const origin of [`https://127.0.0.1:${port}`, `http://127.0.0.1:${port}/`, `http://127.0.0.1:${port}/x`]) {
      const res = await command(origin);
      expect(res.status, origin).toBe(403);
      expect(JSON.parse(res.body).error.code).toBe('forbidden_origin');
    }
    // The stream too.
    expect((await send(port, '/api/events', { Origin: `https://127.0.0.1:${port}` })).status).toBe(403);
  });

  it('createHostGuard checks the forwarded host behind a trusted proxy only', async () => {
    const guard = createHostGuard(['panel.example.com'], ['127.0.0.1']);
    server = await listen((req, res) => {
      const refused = guard(req);
      res.writeHead(refused ? refused.status : 200).end();
    });
    const port = Number(new URL(server.url).port);
    expect((await send(port, '/', { 'X-Forwarded-Host': 'panel.example.com' })).status).toBe(200);
    expect((await send(port, '/', { 'X-Forwarded-Host': 'rebind.example' })).status).toBe(403);
    // From an untrusted peer X-Forwarded-Host means nothing: Host (127.0.0.1) is checked.
    expect(
      (await send(port, '/', { 'X-Forwarded-Host': 'rebind.example' }, { localAddress: '127.0.0.2' })).status,
    ).toBe(200);
  });
});
