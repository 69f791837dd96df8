import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ContractSpec, Hub } from '@boardcast/core';
import { boardcastHttp } from '@boardcast/sse-server';
import { createWsEndpoint } from '@boardcast/ws-server';
import { CHROMIUM_ARGS, chromiumPath } from '../../../test-support/system.js';

/**
 * For tab-sharing tests: the start of a page script that counts the event
 * streams and sockets the page opens itself (`window.live` open now), so a
 * test knows which tab leads.
 */
export const COUNT_STREAMS = `
const Native = { EventSource: window.EventSource, WebSocket: window.WebSocket };
window.live = 0;
window.EventSource = class extends Native.EventSource {
  constructor(...a) { super(...a); window.live++; }
  close() { if (this.readyState !== 2) window.live--; super.close(); }
};
window.WebSocket = class extends Native.WebSocket {
  constructor(...a) { super(...a); window.live++; this.addEventListener('close', () => window.live--); }
};
`;

const page = '<!doctype html><meta charset="utf-8"><title>tab</title><script type="module" src="/bundle.js"></script>';

/**
 * sse-server and ws-server at /api on `host` (the name the pages use is
 * allowed), serving the page at `/?…` and its bundle (`js`: pageBundle's
 * files). Counts the streams and sockets opened (`streams()`) and those
 * open now (`open`).
 */
export async function tabServer<C extends ContractSpec>(
  hub: Hub<C>,
  js: Map<string, string>,
  options: { host?: string; allowedHosts?: string[] } = {},
) {
  const host = options.host ?? '127.0.0.1';
  const allowedHosts = options.allowedHosts ?? [host];
  const api = boardcastHttp(hub, { base: '/api', allowedHosts, sse: { retry: 100 } });
  const open = new Set<object>();
  let streams = 0;
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/?')) return res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    if (req.url && js.has(req.url))
      return res.writeHead(200, { 'content-type': 'text/javascript' }).end(js.get(req.url));
    if (req.url?.startsWith('/api/events')) {
      streams++;
      open.add(res);
      res.on('close', () => open.delete(res));
    }
    api.node(req, res);
  });
  const ws = createWsEndpoint(hub, { server, path: '/api/ws', allowedHosts });
  server.on('upgrade', (_req, socket) => {
    streams++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  server.listen(0, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    open,
    streams: () => streams,
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      api.close();
      await ws.close();
      server.closeAllConnections();
      await closed;
      await hub.close();
    },
  };
}

/**
 * Chromium through puppeteer-core, with `demo.test` resolving to 127.0.0.1:
 * a plain-http LAN-style name, not a secure context (no `navigator.locks`).
 * puppeteer-core, not playwright: Playwright keeps its pages visible (focus
 * emulation), and Chromium freezes only hidden pages, so
 * `Page.setWebLifecycleState` 'frozen' did nothing there.
 */
export async function launchDemoChromium(): Promise<import('puppeteer-core').Browser> {
  const { default: puppeteer } = await import('puppeteer-core');
  return puppeteer.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP demo.test 127.0.0.1'],
  });
}
