import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoardcastError, createHub, defineContract, typed } from '@boardcast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTelemetryRoutes, record } from '../src/index.js';
import { openSqliteStore, type SqliteStore } from '../src/sqlite.js';
import { driver, nativeBinding } from './native.js';

const dir = mkdtempSync(join(tmpdir(), 'boardcast-telemetry-http-'));
let store: SqliteStore;
let server: Server;
let port = 0;
const NOW = Date.now();

function get(
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; body: unknown; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, headers: res.headers }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  store = openSqliteStore({ path: join(dir, 'http.db'), pruneIntervalMs: 0, nativeBinding, driver });
  await store.write([
    { sensor: 'temperature', t: NOW - 2000, value: 20, unit: '°C' },
    { sensor: 'temperature', t: NOW - 1000, value: 22 },
    { channel: 'secret', sensor: 'temperature', t: NOW - 1000, value: 99 },
  ]);
  const routes = createTelemetryRoutes(store, {
    // A bearer token names the viewer; viewers see every channel but `secret`, admins everything.
    authorize: (req) => {
      const token = req.header('authorization');
      if (token === 'Bearer admin') return { id: 'admin' };
      if (token === 'Bearer viewer') return { id: 'viewer' };
      if (token === 'Bearer broken') throw new Error('token service down');
      // A credential that lapsed a second ago (a token's exp × 1000).
      if (token === 'Bearer expired') return { id: 'viewer', expiresAt: Date.now() - 1000 };
      if (token === 'Bearer throttled') {
        throw new BoardcastError('too_many_requests', 'slow down', { details: { retryAfterMs: 2001 } });
      }
      return false;
    },
    access: { canSee: (principal, channel) => (principal as { id: string }).id === 'admin' || channel !== 'secret' },
  });
  server = createServer((req, res) => {
    if (req.url?.startsWith('/api/telemetry/')) routes.node(req, res);
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const viewer = { authorization: 'Bearer viewer' };

describe('chart routes', () => {
  it('answers query, stats, latest and recent as JSON', async () => {
    const query = await get('/api/telemetry/query?sensor=temperature&last=3600000&points=100', viewer);
    expect(query.status).toBe(200);
    expect(query.headers['cache-control']).toBe('no-store');
    expect(query.body).toMatchObject({
      channel: 'default',
      sensor: 'temperature',
      unit: '°C',
      tier: 'raw',
      cursor: null,
    });
    expect((query.body as { buckets: { count: number }[] }).buckets.reduce((n, b) => n + b.count, 0)).toBe(2);
    const stats = await get(`/api/telemetry/stats?sensor=temperature&from=${NOW - 60_000}`, viewer);
    expect(stats.body).toMatchObject({ min: 20, max: 22, count: 2, last: 22 });
    const recent = await get('/api/telemetry/recent?sensor=temperature&limit=1', viewer);
    expect(recent.body).toEqual([{ channel: 'default', sensor: 'temperature', t: NOW - 1000, value: 22 }]);
    const none = await get(`/api/telemetry/stats?sensor=nothing&from=${NOW - 60_000}`, viewer);
    expect(none).toMatchObject({ status: 200, body: null });
  });

  it('follows the channel access policy: a channel the viewer may not see is forbidden and left out of latest', async () => {
    const denied = await get('/api/telemetry/query?channel=secret&sensor=temperature&last=60000&points=10', viewer);
    expect(denied).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
    const latest = await get('/api/telemetry/latest', viewer);
    expect((latest.body as { channel: string }[]).map((r) => r.channel)).toEqual(['default']);
    const admin = await get('/api/telemetry/latest', { authorization: 'Bearer admin' });
    expect((admin.body as { channel: string }[]).map((r) => r.channel)).toEqual(['default', 'secret']);
    expect((await get('/api/telemetry/latest?channel=secret', viewer)).status).toBe(403);
  });

  it('applies the same Host/Origin/authorize policy as the other endpoints', async () => {
    const path = '/api/telemetry/latest';
    expect(await get(path)).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect(await get(path, { authorization: 'Bearer broken' })).toMatchObject({
      status: 500,
      body: { error: { code: 'handler_failed', message: 'authorization failed' } },
    });
    // The rule of every endpoint (core's authorizeRequest): an expired credential is no credential,
    // and a throttled one says when to come back.
    expect(await get(path, { authorization: 'Bearer expired' })).toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized', message: 'the credential has expired' } },
    });
    const throttled = await get(path, { authorization: 'Bearer throttled' });
    expect(throttled).toMatchObject({ status: 429, body: { error: { code: 'too_many_requests' } } });
    expect(throttled.headers['retry-after']).toBe('3');
    expect(throttled.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(await get(path, { ...viewer, host: 'attacker.example' })).toMatchObject({
      status: 403,
      body: { error: { code: 'forbidden_host' } },
    });
    expect(await get(path, { ...viewer, origin: 'https://attacker.example' })).toMatchObject({
      status: 403,
      body: { error: { code: 'forbidden_origin' } },
    });
    expect((await get(path, { ...viewer, origin: `http://127.0.0.1:${port}` })).status).toBe(200);
  });

  it('refuses bad requests with typed errors', async () => {
    for (const path of [
      '/api/telemetry/query?sensor=temperature&last=60000',
      '/api/telemetry/query?sensor=temperature&last=60000&points=1',
      '/api/telemetry/query?sensor=temperature&from=abc&points=10',
      '/api/telemetry/query?sensor=temperature&points=10',
      '/api/telemetry/query?sensor=../x&last=60000&points=10',
      '/api/telemetry/recent?sensor=temperature&limit=0',
      '/api/telemetry/query?sensor=temperature&last=-5&points=10',
    ]) {
      expect(await get(path, viewer), path).toMatchObject({
        status: 400,
        body: { error: { code: 'invalid_payload' } },
      });
    }
    expect(await get('/api/telemetry/nope', viewer)).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    const post = await get('/api/telemetry/latest', viewer, 'POST');
    expect(post).toMatchObject({ status: 405, body: { error: { code: 'method_not_allowed' } } });
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('serves the same answers through the fetch handler', async () => {
    const routes = createTelemetryRoutes(store);
    const response = await routes.fetch(
      new Request('http://127.0.0.1/api/telemetry/recent?sensor=temperature&limit=2', {
        headers: { host: '127.0.0.1' },
      }),
    );
    expect(response.status).toBe(200);
    expect(((await response.json()) as unknown[]).length).toBe(2);
    const bad = await routes.fetch(
      new Request('http://attacker.example/api/telemetry/latest', { headers: { host: 'attacker.example' } }),
    );
    expect(bad.status).toBe(403);
    expect(BoardcastError.fromJSON(((await bad.json()) as { error: unknown }).error).code).toBe('forbidden_host');
  });

  it("judges a credential's expiresAt by the routes' clock (`now`), the one `last=` uses", async () => {
    const at = (now: number) =>
      createTelemetryRoutes(store, { now: () => now, authorize: () => ({ id: 'viewer', expiresAt: NOW + 60_000 }) });
    const request = () => new Request('http://127.0.0.1/api/telemetry/latest', { headers: { host: '127.0.0.1' } });
    expect((await at(NOW).fetch(request())).status).toBe(200);
    const late = await at(NOW + 60_000).fetch(request());
    expect(late.status).toBe(401);
    expect(((await late.json()) as { error: { message: string } }).error.message).toBe('the credential has expired');
  });

  it('with `recorder`, flushes it first: the answer and its cursor include every reading the hub delivered', async () => {
    const contract = defineContract({
      events: { reading: typed<{ sensor: string; value: number; at: number }>() },
      commands: {},
      state: typed<Record<string, never>>(),
    });
    const hub = createHub(contract, { state: {} });
    const recorder = record(hub, store, { flushIntervalMs: 60_000 });
    try {
      const id = await hub.publish('reading', { sensor: 'pressure', value: 1013, at: NOW });
      const url = `http://127.0.0.1/api/telemetry/query?sensor=pressure&from=${NOW - 1000}&points=10`;
      const headers = { headers: { host: '127.0.0.1' } };
      // Without it the reading still waits in the recorder's queue …
      const before = (await (await createTelemetryRoutes(store).fetch(new Request(url, headers))).json()) as {
        buckets: unknown[];
      };
      expect(before.buckets).toEqual([]);
      // … with it, it is written before the answer, and the cursor is its id.
      const routes = createTelemetryRoutes(store, { recorder });
      const after = (await (await routes.fetch(new Request(url, headers))).json()) as {
        buckets: unknown[];
        cursor: string;
      };
      expect(after.buckets).toHaveLength(1);
      expect(after.cursor).toBe(id);
    } finally {
      await recorder.close();
      await hub.close();
    }
  });
});
