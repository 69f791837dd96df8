/**
 * The server-render check both UI bindings (@boardcast/react,
 * @boardcast/vue: test/ssr.test.ts) must pass: what Next.js, Remix, Nuxt or
 * Vite SSR do with a page. The module is imported and rendered in Node,
 * where there is no `window`; it must render the initial values and open no
 * connection. {@link describeServerRender} serves the LED hub (sse-server and
 * ws-server) and fails if any request or upgrade reaches it while the
 * package's `render` runs for each transport, or shortly after.
 */
import { createHub } from '@boardcast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contract } from './led-contract.js';
import { type PageServer, servePage } from './vite-page.js';

/**
 * `render(api, transport)` makes a board for `api` (`http://127.0.0.1:<port>/api`)
 * and `transport`, renders it on the server and checks the HTML; it runs for
 * 'sse', then 'ws'.
 */
export function describeServerRender(
  name: string,
  render: (api: string, transport: 'sse' | 'ws') => Promise<void> | void,
): void {
  describe(`${name} in a server render`, () => {
    const hub = createHub(contract, { state: { led: { on: false } } });
    let server: PageServer;
    beforeAll(async () => {
      server = await servePage(hub, new Map());
    });
    afterAll(async () => {
      await server.close();
      await hub.close();
    });

    it('renders initial values without window and opens no connection', async () => {
      expect(typeof (globalThis as { window?: unknown }).window).toBe('undefined');
      const requests: string[] = [];
      server.server.on('request', (req) => requests.push(String(req.url)));
      server.server.on('upgrade', (req) => requests.push(String(req.url)));
      for (const transport of ['sse', 'ws'] as const) await render(`${server.origin}/api`, transport);
      // Give a stray connection attempt time to arrive: there must be none.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(requests).toEqual([]);
      expect(server.opened()).toBe(0);
    });
  });
}
