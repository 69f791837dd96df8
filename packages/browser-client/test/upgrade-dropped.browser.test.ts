import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { suiteBrowser } from '../../../test-support/suite-browser.js';
import { chromiumPath, launchChromium } from '../../../test-support/system.js';
import { openPage, PAGE, pageBundle, pageRoutes } from './page-bundle.js';

/**
 * A server that answers plain HTTP but never upgrades, as the API looks
 * through a proxy that drops the WebSocket upgrade (nginx with a bare
 * `proxy_pass`; examples/led-demo/test/nginx-upgrade.browser.test.ts runs the
 * real one). In a browser the refused upgrade looks like any network error:
 * both WebSocket clients, the single stream and the channel one, must say
 * `upgrade_failed` and stop after the second identical failure instead of
 * reconnecting for ever.
 */
const script = `
import { connectWs } from '@boardcast/browser-client/ws';
import { connectChannels } from '@boardcast/browser-client/channels';
const contract = { events: { add: 1 }, reducers: { add: (s, x) => s + x } };
const options = { reconnect: { initialDelayMs: 100, maxDelayMs: 200 } };
const client = location.search === '?channels'
  ? connectChannels('/api', contract, { ...options, transport: 'ws', channels: ['board-1'] })
  : connectWs('/api', contract, options);
window.result = { errors: [] };
client.on('error', (e) => window.result.errors.push(e.code));
client.onStatus((s) => {
  if (s.status === 'closed') window.result.error = { code: client.error?.code, message: client.error?.message };
});
`;

type Result = { errors: string[]; error?: { code: string; message: string } };

/** Both WebSocket clients: the page's query picks one. */
const CLIENTS = [
  ['the single stream (connectWs)', ''],
  ['a channel client (connectChannels)', '?channels'],
] as const;

/** The page for `query` on `server`, once its client stopped or had three errors (or 30 s). */
async function runPage(browser: Parameters<typeof openPage>[0], server: Server, query: string) {
  const opened = await openPage(browser, `http://127.0.0.1:${(server.address() as AddressInfo).port}/${query}`);
  await opened.tab.waitForFunction(
    () => {
      const seen = (window as unknown as { result?: Result }).result;
      return seen !== undefined && (seen.error !== undefined || seen.errors.length >= 3);
    },
    undefined,
    { timeout: 30_000 },
  );
  const result = await opened.tab.evaluate(() => (window as unknown as { result: Result }).result);
  return { ...opened, result };
}

describe.skipIf(!chromiumPath)('WebSocket clients in Chromium behind a proxy that drops the upgrade', () => {
  let server: Server;
  /** Requests to the API as the server saw them: method, path, and whether it asked for an upgrade. */
  const api: string[] = [];

  beforeAll(async () => {
    const page = pageRoutes(PAGE, await pageBundle(script));
    // No 'upgrade' listener: Node answers an upgrade request as any other.
    server = createServer((req, res) => {
      if (page(req, res)) return;
      if (req.url?.startsWith('/api/')) {
        api.push(`${req.method} ${req.url.split('?')[0]}${req.headers.upgrade ? ' upgrade' : ''}`);
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such page');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  const browser = suiteBrowser(launchChromium, () => new Promise((resolve) => server.close(resolve)));

  it.each(CLIENTS)(
    '%s is told upgrade_failed and stops after the second attempt',
    async (_, query) => {
      api.length = 0;
      const { tab, problems, result } = await runPage(browser(), server, query);
      expect(result.error?.code).toBe('upgrade_failed');
      expect(result.error?.message).toMatch(/HTTP 404 but no WebSocket: a proxy drops the upgrade/);
      expect(result.errors).toEqual(['upgrade_failed', 'upgrade_failed']);
      // Each attempt: the upgrade, then the same address once over plain HTTP.
      expect(api).toEqual(['GET /api/ws upgrade', 'GET /api/ws', 'GET /api/ws upgrade', 'GET /api/ws']);
      expect(problems).toEqual([]);
      await tab.close();
    },
    60_000,
  );
});

describe.skipIf(!chromiumPath)('WebSocket clients in Chromium behind a proxy whose backend is down (502)', () => {
  let server: Server;
  beforeAll(async () => {
    const page = pageRoutes(PAGE, await pageBundle(script));
    // The upgrade and the plain-HTTP question both get 502, as from nginx while the app restarts.
    server = createServer((req, res) => {
      if (page(req, res)) return;
      res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
    });
    server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  const browser = suiteBrowser(launchChromium, () => new Promise((resolve) => server.close(resolve)));

  it.each(CLIENTS)(
    '%s keeps retrying (network_error), never taking a 5xx for a dropped upgrade',
    async (_, query) => {
      const { tab, problems, result } = await runPage(browser(), server, query);
      expect(result.error).toBeUndefined();
      expect(result.errors.slice(0, 3)).toEqual(['network_error', 'network_error', 'network_error']);
      expect(problems).toEqual([]);
      await tab.close();
    },
    60_000,
  );
});
