import { request as httpRequest } from 'node:http';
import { hostname } from 'node:os';
import type { BoardcastError } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { endAll } from '../../../test-support/end-all.js';
import { rebindingChromium } from '../../../test-support/rebinding-chromium.js';
import { chromiumPath } from '../../../test-support/system.js';
import { type BoardcastHttp, type BoardcastHttpOptions, boardcastHttp } from '../src/index.js';
import { listen, makeHub, type TestServer } from './helpers.js';

let server: TestServer | undefined;
let api: BoardcastHttp | undefined;
let hub: ReturnType<typeof makeHub>;

afterEach(async () => {
  await endAll(api, hub, server);
  server = undefined;
  api = undefined;
});

async function setup(options: BoardcastHttpOptions = {}) {
  hub = makeHub();
  api = boardcastHttp(hub, { base: '/api', ...options });
  const http = api;
  server = await listen((req, res) => http.node(req, res));
  return Number(new URL(server.url).port);
}

interface Answer {
  status: number;
  contentType: string | undefined;
  body: string;
}

/** One real request with a Host header of our choosing (fetch will not let us set Host). */
function send(
  port: number,
  path: string,
  host: string,
  init: { method?: string; body?: string; origin?: string } = {},
) {
  return new Promise<Answer>((resolve, reject) => {
    const headers: Record<string, string> = { Host: host };
    if (init.body !== undefined) headers['Content-Type'] = 'application/json';
    if (init.origin !== undefined) headers.Origin = init.origin;
    const req = httpRequest({ host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        // A stream never ends by itself: its first frame is enough.
        if (res.headers['content-type']?.startsWith('text/event-stream')) {
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body });
          req.destroy();
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('Host is an input (DNS rebinding)', () => {
  it('refuses a foreign Host on the stream and on commands with 403 forbidden_host, before anything runs', async () => {
    const port = await setup();
    const refusals: string[] = [];
    api?.sse.on('reject', (error) => refusals.push(`sse:${error.code}`));
    api?.commands.on('reject', (error) => refusals.push(`commands:${error.code}`));
    const foreign = `rebind.example:${port}`;
    // Exactly what a rebound page sends: its Origin is "same-host" with the forged name.
    const stream = await send(port, '/api/events', foreign, { origin: `http://${foreign}` });
    expect(stream.status).toBe(403);
    expect(JSON.parse(stream.body).error.code).toBe('forbidden_host');
    const command = await send(port, '/api/commands/led', foreign, {
      method: 'POST',
      body: '{"state":"on"}',
      origin: `http://${foreign}`,
    });
    expect(command.status).toBe(403);
    expect(JSON.parse(command.body).error.code).toBe('forbidden_host');
    expect(hub.state.led.on).toBe(false);
    expect(api?.sse.clientCount).toBe(0);
    expect(refusals).toEqual(['sse:forbidden_host', 'commands:forbidden_host']);
  });

  it('accepts IP literals (any spelling), localhost and the machine name by default', async () => {
    const port = await setup();
    for (const host of [`127.0.0.1:${port}`, `2130706433:${port}`, `localhost:${port}`, `${hostname()}:${port}`]) {
      const stream = await send(port, '/api/events', host);
      expect(stream.status, host).toBe(200);
      expect(stream.body, host).toMatch(/^retry: \d+\n\n/);
      const command = await send(port, '/api/commands/led', host, { method: 'POST', body: '{"state":"toggle"}' });
      expect(command.status, host).toBe(200);
    }
  });

  it('accepts the LAN names the app adds with allowedHosts, on both endpoints', async () => {
    const port = await setup({ allowedHosts: ['panel.lan', '.home.arpa'] });
    for (const host of [`panel.lan:${port}`, `pi.home.arpa:${port}`]) {
      expect((await send(port, '/api/events', host)).status, host).toBe(200);
      const command = await send(port, '/api/commands/led', host, {
        method: 'POST',
        body: '{"state":"on"}',
        origin: `http://${host}`,
      });
      expect(command.status, host).toBe(200);
    }
    const other = await send(port, '/api/events', `other.lan:${port}`);
    expect((JSON.parse(other.body) as { error: BoardcastError }).error.code).toBe('forbidden_host');
  });

  it('checks Origin with the same normalization on commands and the stream (default same-host)', async () => {
    const port = await setup();
    const host = `127.0.0.1:${port}`;
    const cross = await send(port, '/api/commands/led', host, {
      method: 'POST',
      body: '{"state":"on"}',
      origin: 'http://evil.example',
    });
    expect(cross.status).toBe(403);
    expect(JSON.parse(cross.body).error.code).toBe('forbidden_origin');
    const same = await send(port, '/api/commands/led', host, {
      method: 'POST',
      body: '{"state":"on"}',
      origin: `HTTP://127.0.0.1:${port}`,
    });
    expect(same.status).toBe(200);
    const stream = await send(port, '/api/events', host, { origin: 'http://evil.example' });
    expect(JSON.parse(stream.body).error.code).toBe('forbidden_origin');
  });
});

/**
 * The attack in a real browser: Chromium resolves rebind.example to
 * 127.0.0.1, as a rebound DNS answer would, and the page it loads from that
 * name tries the stream and a command. Only the Host check stands in the way.
 */
describe.skipIf(!chromiumPath)('DNS rebinding in Chromium', () => {
  const chromium = rebindingChromium();

  it('a page from a rebound name gets neither the stream nor a command; from 127.0.0.1 it gets both', async () => {
    hub = makeHub();
    const http = boardcastHttp(hub, { base: '/api' });
    api = http;
    const page = `<!doctype html><script>
      window.result = (async () => {
        const stream = await new Promise((resolve) => {
          const source = new EventSource('/api/events');
          source.addEventListener('snapshot', () => { source.close(); resolve('stream'); });
          source.onerror = () => { source.close(); resolve('no stream'); };
        });
        const response = await fetch('/api/commands/led', {
          method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"state":"toggle"}',
        });
        return stream + ', command ' + response.status + ' ' + (await response.text());
      })();
    </script>`;
    server = await listen((req, res) => {
      if (http.matches(new URL(req.url ?? '/', 'http://x').pathname)) return http.node(req, res);
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(page);
    });
    const port = new URL(server.url).port;
    const tab = await chromium().browser.newPage();
    try {
      await tab.goto(`http://rebind.example:${port}/`);
      const refused = String(await tab.evaluate('window.result'));
      expect(refused).toMatch(/^no stream, command 403 .*forbidden_host/);
      expect(hub.state.led.on).toBe(false);
      await tab.goto(`http://127.0.0.1:${port}/`);
      expect(await tab.evaluate('window.result')).toBe('stream, command 200 {"on":true}');
    } finally {
      await tab.close();
    }
  }, 60_000);
});
