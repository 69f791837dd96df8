import { WS_PROTOCOL } from '@boardcast/core/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { suiteBrowser } from '../../../test-support/suite-browser.js';
import { chromiumPath, launchChromium } from '../../../test-support/system.js';
import { makeHub, serve, type TestServer } from './helpers.js';
import { openPage, PAGE, pageBundle, pageRoutes } from './page-bundle.js';

/**
 * A full server is "not now", never "never": a browser whose WebSocket is
 * refused because the server is at `maxClients` must keep retrying and
 * connect once a place frees up. Browsers hide a refused upgrade's status
 * (any refusal reads as close 1006), and the client's question over plain
 * HTTP would then take the full server for a proxy that drops the upgrade
 * (`upgrade_failed`, which stops it after two): ws-server says
 * `too_many_clients` inside the socket to a browser instead.
 */
const script = `
import { connectWs } from '@boardcast/browser-client/ws';
import { connectChannels } from '@boardcast/browser-client/channels';
const contract = { events: { led: 1 }, reducers: {} };
const options = { reconnect: { initialDelayMs: 100, maxDelayMs: 300 } };
const client = location.search === '?channels'
  ? connectChannels('/api', contract, { ...options, transport: 'ws', channels: ['default'] })
  : connectWs('/api', contract, options);
window.result = { errors: [], statuses: [], snapshots: 0 };
client.on('error', (e) => window.result.errors.push(e.code));
// A snapshot is what only a socket the server took carries: proof of a place, not just an open socket.
client.on('snapshot', () => window.result.snapshots++);
client.onStatus((s) => window.result.statuses.push(s.status));
`;

type Result = { errors: string[]; statuses: string[]; snapshots: number };

/** A device's socket on the server's one place, retried while a page that just closed still holds it. */
async function takeThePlace(port: number): Promise<WebSocket> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/api/ws`, WS_PROTOCOL);
    const opened = await new Promise<boolean>((resolve) => {
      socket.once('open', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
    if (opened) return socket;
    if (Date.now() > deadline) throw new Error('the place never freed up');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(!chromiumPath)('WebSocket clients in Chromium against a server at maxClients', () => {
  let server: TestServer;
  const hub = makeHub();

  beforeAll(async () => {
    const page = pageRoutes(PAGE, await pageBundle(script));
    server = await serve(hub, { ws: { maxClients: 1, allowedOrigins: '*' }, extra: page });
  });
  const browser = suiteBrowser(launchChromium, () => server.kill());
  afterAll(() => hub.close());

  it.each([
    ['the single stream (connectWs)', ''],
    ['a channel client (connectChannels)', '?channels'],
  ])(
    '%s is told too_many_clients, keeps retrying, and connects when a place frees up',
    async (_, query) => {
      // The one place, taken by a device (once the previous case's page has left it).
      const device = await takeThePlace(server.port);
      try {
        const { tab, problems } = await openPage(browser(), `http://127.0.0.1:${server.port}/${query}`);
        const result = () => tab.evaluate(() => (window as unknown as { result: Result }).result);
        // Three refusals in a row (more than the two after which upgrade_failed stops a client), or the end.
        await tab.waitForFunction(
          () => {
            const seen = (window as unknown as { result?: Result }).result;
            return seen !== undefined && (seen.errors.length >= 3 || seen.statuses.includes('closed'));
          },
          undefined,
          { timeout: 30_000 },
        );
        expect((await result()).errors.slice(0, 3)).toEqual([
          'too_many_clients',
          'too_many_clients',
          'too_many_clients',
        ]);
        expect((await result()).statuses).not.toContain('closed');
        // Refused sockets never show `open` nor a snapshot.
        expect((await result()).statuses).not.toContain('open');
        expect((await result()).snapshots).toBe(0);
        device.close();
        await tab.waitForFunction(
          () => ((window as unknown as { result?: Result }).result?.snapshots ?? 0) > 0,
          undefined,
          { timeout: 30_000 },
        );
        expect((await result()).statuses.at(-1)).toBe('open');
        expect((await result()).statuses).not.toContain('closed');
        expect(problems).toEqual([]);
        await tab.close();
      } finally {
        device.close();
      }
    },
    90_000,
  );
});
