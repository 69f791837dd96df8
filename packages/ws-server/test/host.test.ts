import { createServer } from 'node:http';
import { WS_PROTOCOL } from '@boardcast/core/wire';
import { afterAll, describe, expect, it } from 'vitest';
import { rebindingChromium } from '../../../test-support/rebinding-chromium.js';
import { chromiumPath } from '../../../test-support/system.js';
import { createWsEndpoint, type WsRejection } from '../src/index.js';
import { closeAll, listen, makeHub, refusal, setup, TestClient, waitFor } from './helpers.js';

describe('Host is an input (DNS rebinding)', () => {
  afterAll(closeAll);

  it('refuses an upgrade whose Host is a foreign name, even with a matching same-host Origin', async () => {
    const { url, port, endpoint } = await setup();
    const rejections: WsRejection[] = [];
    endpoint.on('reject', (r) => rejections.push(r));
    const foreign = `rebind.example:${port}`;
    const { status, body } = await refusal(url, { headers: { host: foreign, origin: `http://${foreign}` } });
    expect(status).toBe(403);
    expect(body.error.code).toBe('forbidden_host');
    expect(rejections.map((r) => r.code)).toEqual(['forbidden_host']);
    expect(endpoint.clientCount).toBe(0);
  });

  it('accepts IP literals, localhost and names added with allowedHosts', async () => {
    const { url, port } = await setup({ allowedHosts: ['panel.lan'] });
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `panel.lan:${port}`]) {
      const client = await TestClient.open(url, { headers: { host, origin: `http://${host}` } });
      await client.next((f) => f.type === 'snapshot');
      client.ws.close();
    }
    const { body } = await refusal(url, { headers: { host: `other.lan:${port}` } });
    expect(body.error.code).toBe('forbidden_host');
  });
});

/**
 * The attack itself, in a real browser: Chromium resolves rebind.example to
 * 127.0.0.1 (as a rebound DNS answer would), loads the page from there and
 * tries the socket from that page. Only the Host check stands in the way.
 */
describe.skipIf(!chromiumPath)('DNS rebinding in Chromium', () => {
  const chromium = rebindingChromium();
  afterAll(closeAll);

  it('a page loaded from a rebound name cannot open the socket; the same page from 127.0.0.1 can', async () => {
    const hub = makeHub();
    const page = `<!doctype html><script>
      window.result = new Promise((resolve) => {
        const ws = new WebSocket('ws://' + location.host + '/ws', '${WS_PROTOCOL}');
        ws.onmessage = (e) => { const m = JSON.parse(e.data); resolve('open:' + m.type + (m.error ? ':' + m.error.code : '')); ws.close(); };
        ws.onerror = () => resolve('refused');
      });
    </script>`;
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(page);
    });
    const endpoint = createWsEndpoint(hub, { server });
    const rejections: WsRejection[] = [];
    endpoint.on('reject', (r) => rejections.push(r));
    const port = await listen(server);
    const tab = await chromium().browser.newPage();
    try {
      await tab.goto(`http://rebind.example:${port}/`);
      // Told inside the socket: a browser hides a refused upgrade's status.
      expect(await tab.evaluate('window.result')).toBe('open:error:forbidden_host');
      await waitFor(() => rejections.length === 1, 'the refusal reported');
      expect(rejections[0]?.code).toBe('forbidden_host');
      await tab.goto(`http://127.0.0.1:${port}/`);
      expect(await tab.evaluate('window.result')).toBe('open:snapshot');
    } finally {
      await tab.close();
      await endpoint.close();
    }
  }, 60_000);
});
