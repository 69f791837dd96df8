import { createElement as h } from 'react';
import { renderToString } from 'react-dom/server';
import { expect } from 'vitest';
import { describeServerRender } from '../../../test-support/server-render.js';
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
 * must render the initial values and open no connection (the check and the
 * server it watches: test-support/server-render.ts).
 */
describeServerRender('@boardcast/react', (api, transport) => {
  const board = createBoardcast(api, contract, { transport, initialState: { led: { on: true } } });
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
  const without = createBoardcast(api, contract, { transport });
  // biome-ignore lint/correctness/noComponentHookFactories: as above
  function Bare() {
    return h('p', null, String(useBoardState(without)));
  }
  expect(renderToString(h(Bare))).toBe('<p>undefined</p>');
});
