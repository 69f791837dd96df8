import { createHub } from '@boardcast/core';
import { createElement as h } from 'react';
import { renderToString } from 'react-dom/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PageServer, servePage } from '../../../test-support/vite-page.js';
import {
  createBoardcast,
  useBoardClient,
  useBoardEvent,
  useBoardState,
  useCommand,
  useConnection,
  useServerStatus,
} from '../src/index.js';
import { contract } from './contract.js';

/**
 * A server render (what Next.js, Remix or Vite SSR do with a page): the
 * module is imported and rendered in Node, where there is no `window`. It
 * must render the initial values and open no connection.
 */
describe('@boardcast/react in a server render', () => {
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
      // biome-ignore lint/correctness/noComponentHookFactories: one component per board under test, rendered at once
      function Led() {
        const on = useBoardState(board, (s) => s.led.on);
        const status = useConnection(board);
        const serverStatus = useServerStatus(board);
        const client = useBoardClient(board);
        const toggle = useCommand(board, 'led');
        useBoardEvent(board, 'button', () => undefined);
        return h(
          'p',
          null,
          `${on ? 'on' : 'off'} ${status.status} ${serverStatus.bus} ${client ? 'client' : 'none'} ${toggle.pending}`,
        );
      }
      const html = renderToString(h(Led));
      expect(html).toBe('<p>on connecting ok none false</p>');
      expect(board.lease.client).toBeUndefined();
      const without = createBoardcast(`${server.origin}/api`, contract, { transport });
      // biome-ignore lint/correctness/noComponentHookFactories: as above
      function Bare() {
        return h('p', null, String(useBoardState(without)));
      }
      expect(renderToString(h(Bare))).toBe('<p>undefined</p>');
    }
    // Give a stray connection attempt time to arrive: there must be none.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(requests).toEqual([]);
    expect(server.opened()).toBe(0);
  });
});
