import { createHub } from '@boardcast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSSRApp, defineComponent, h } from 'vue';
import { renderToString } from 'vue/server-renderer';
import { type PageServer, servePage } from '../../../test-support/vite-page.js';
import {
  createBoardcast,
  useBoardEvent,
  useBoardState,
  useCommand,
  useConnection,
  useServerStatus,
} from '../src/index.js';
import { contract } from './contract.js';

/**
 * A server render (what Nuxt or Vite SSR do with a page): imported and
 * rendered in Node, where there is no `window`. It must render the initial
 * values and open no connection.
 */
describe('@boardcast/vue in a server render', () => {
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
    for (const transport of ['sse', 'ws'] as const) {
      const board = createBoardcast(`${server.origin}/api`, contract, {
        transport,
        initialState: { led: { on: true } },
      });
      const Led = defineComponent({
        setup() {
          const on = useBoardState(board, (s) => s.led.on);
          const status = useConnection(board);
          const serverStatus = useServerStatus(board);
          const toggle = useCommand(board, 'led');
          useBoardEvent(board, 'button', () => undefined);
          return () =>
            h(
              'p',
              `${on.value ? 'on' : 'off'} ${status.value.status} ${serverStatus.value.bus} ${toggle.pending.value}`,
            );
        },
      });
      expect(await renderToString(createSSRApp(Led))).toBe('<p>on connecting ok false</p>');
      expect(board.lease.client).toBeUndefined();
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(requests).toEqual([]);
    expect(server.opened()).toBe(0);
  });
});
