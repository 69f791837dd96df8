import { expect } from 'vitest';
import { createSSRApp, defineComponent, h } from 'vue';
import { renderToString } from 'vue/server-renderer';
import { describeServerRender } from '../../../test-support/server-render.js';
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
 * values and open no connection (the check and the server it watches:
 * test-support/server-render.ts).
 */
describeServerRender('@boardcast/vue', async (api, transport) => {
  const board = createBoardcast(api, contract, { transport, initialState: { led: { on: true } } });
  const Led = defineComponent({
    setup() {
      const on = useBoardState(board, (s) => s.led.on);
      const status = useConnection(board);
      const serverStatus = useServerStatus(board);
      const toggle = useCommand(board, 'led');
      useBoardEvent(board, 'button', () => undefined);
      return () =>
        h('p', `${on.value ? 'on' : 'off'} ${status.value.status} ${serverStatus.value.bus} ${toggle.pending.value}`);
    },
  });
  expect(await renderToString(createSSRApp(Led))).toBe('<p>on connecting ok false</p>');
  expect(board.lease.client).toBeUndefined();
});
