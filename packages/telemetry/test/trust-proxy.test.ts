/**
 * trustProxy on the chart routes, over real sockets, as sse-server's
 * test/trust-proxy.test.ts does for the stream and commands: connections
 * from 127.0.0.1 play the proxy, connections bound to 127.0.0.2 play a
 * client that is not one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoardcastError } from '@boardcast/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { statusAndCode } from '../../../test-support/status-and-code.js';
import { createTelemetryRoutes, type TelemetryRoutesOptions } from '../src/index.js';
import { openSqliteStore, type SqliteStore } from '../src/sqlite.js';
import { driver, nativeBinding } from './native.js';

const dir = mkdtempSync(join(tmpdir(), 'boardcast-telemetry-proxy-'));
let store: SqliteStore;
let server: Server | undefined;
/** `request.clientAddress` as each call of `authorize` saw it. */
const seen: (string | undefined)[] = [];

beforeAll(async () => {
  store = openSqliteStore({ path: join(dir, 'proxy.db'), pruneIntervalMs: 0, nativeBinding, driver });
  await store.write([{ sensor: 'temperature', t: Date.now() - 1000, value: 21 }]);
});
afterEach(async () => {
  const s = server;
  server = undefined;
  seen.length = 0;
  if (s) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function setup(options: TelemetryRoutesOptions): Promise<number> {
  const routes = createTelemetryRoutes(store, {
    authorize: (req) => {
      seen.push(req.clientAddress);
      return true;
    },
    ...options,
  });
  server = createServer((req, res) => routes.node(req, res));
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A GET of the latest readings from `localAddress`; resolves with the status and error code (every answer is JSON). */
const get = (port: number, headers: Record<string, string>, localAddress?: string) =>
  statusAndCode(port, '/api/telemetry/latest', headers, { localAddress, jsonOnly: true });

/** What nginx in front of `https://panel.example.com` sends for a page's request. */
const page = {
  Origin: 'https://panel.example.com',
  'X-Forwarded-For': '198.51.100.7',
  'X-Forwarded-Host': 'panel.example.com',
  'X-Forwarded-Proto': 'https',
};

describe('telemetry routes: trustProxy', () => {
  it("a query from the page's public origin passes behind a trusted proxy, and the client is the forwarded address", async () => {
    const port = await setup({ trustProxy: ['127.0.0.1'], allowedHosts: ['panel.example.com'] });
    expect(await get(port, page)).toEqual({ status: 200, code: undefined });
    expect(seen).toEqual(['198.51.100.7']);
    // Each proxy appends what it saw; the right-most address that is not a trusted proxy is the client.
    expect((await get(port, { 'X-Forwarded-For': '203.0.113.1, 127.0.0.3' })).status).toBe(200);
    expect(seen.at(-1)).toBe('127.0.0.3');
    expect((await get(port, { 'X-Forwarded-For': '203.0.113.1, 127.0.0.1' })).status).toBe(200);
    expect(seen.at(-1)).toBe('203.0.113.1');
  });

  it('the same headers from a peer that is not a trusted proxy are ignored', async () => {
    const port = await setup({ trustProxy: ['127.0.0.1'], allowedHosts: ['panel.example.com'] });
    // Host 127.0.0.1 and scheme http: the page's https origin is foreign here.
    expect(await get(port, page, '127.0.0.2')).toEqual({ status: 403, code: 'forbidden_origin' });
    // A forged Host by way of X-Forwarded-Host is not believed either.
    expect(
      await get(port, { 'X-Forwarded-Host': 'attacker.example', 'X-Forwarded-For': '203.0.113.9' }, '127.0.0.2'),
    ).toEqual({ status: 200, code: undefined });
    expect(seen).toEqual(['127.0.0.2']);
  });

  it('without trustProxy forwarding headers are ignored even from the proxy (the default)', async () => {
    const port = await setup({ allowedHosts: ['panel.example.com'] });
    expect(await get(port, page)).toEqual({ status: 403, code: 'forbidden_origin' });
    expect((await get(port, { 'X-Forwarded-For': '198.51.100.7' })).status).toBe(200);
    expect(seen).toEqual(['127.0.0.1']);
  });

  it("with headers: 'forwarded', RFC 7239 Forwarded is read and X-Forwarded-* ignored", async () => {
    const port = await setup({
      trustProxy: { addresses: ['127.0.0.1'], headers: 'forwarded' },
      allowedHosts: ['panel.example.com'],
    });
    const forwarded = {
      Origin: 'https://panel.example.com',
      Forwarded: 'for=198.51.100.8;host=panel.example.com;proto=https',
    };
    expect(await get(port, forwarded)).toEqual({ status: 200, code: undefined });
    expect(seen).toEqual(['198.51.100.8']);
    // The other family, which such a proxy passes through from the client untouched, is not believed.
    expect(await get(port, page)).toEqual({ status: 403, code: 'forbidden_origin' });
    expect((await get(port, { 'X-Forwarded-For': '203.0.113.5' })).status).toBe(200);
    expect(seen.at(-1)).toBe('127.0.0.1');
    // …and a trusted proxy's Forwarded from an untrusted peer is not either.
    expect(await get(port, forwarded, '127.0.0.2')).toEqual({ status: 403, code: 'forbidden_origin' });
  });

  it('the fetch handler judges the peer the adapter passes', async () => {
    const routes = createTelemetryRoutes(store, {
      trustProxy: ['10.0.0.0/8'],
      allowedHosts: ['panel.example.com'],
      authorize: (req) => {
        seen.push(req.clientAddress);
        return true;
      },
    });
    const forwarded = () =>
      new Request('http://127.0.0.1/api/telemetry/latest', {
        headers: { host: '127.0.0.1', ...page },
      });
    expect((await routes.fetch(forwarded(), { remoteAddress: '10.1.2.3' })).status).toBe(200);
    expect(seen).toEqual(['198.51.100.7']);
    const refused = await routes.fetch(forwarded(), { remoteAddress: '192.0.2.1' });
    expect(refused.status).toBe(403);
    expect(BoardcastError.fromJSON(((await refused.json()) as { error: unknown }).error).code).toBe('forbidden_origin');
    // No peer given: nobody is trusted.
    expect((await routes.fetch(forwarded())).status).toBe(403);
  });

  it('a malformed trustProxy is refused when the routes are built', () => {
    expect(() => createTelemetryRoutes(store, { trustProxy: ['not-an-address'] })).toThrow(TypeError);
  });
});
