// The test page: built by Vite, driven in Chromium, Firefox and WebKit (engines.browser.test.ts).
// Render functions instead of an SFC, so the build needs no Vue plugin.
import { createBoardcast, useBoardEvent, useBoardState, useCommand, useConnection } from '@boardcast/vue';
import { createApp, defineComponent, h, ref } from 'vue';
import { contract } from '../contract.js';

const transport = new URLSearchParams(location.search).get('transport') === 'ws' ? 'ws' : 'sse';
const board = createBoardcast('/api', contract, { transport, graceMs: 200 });

const Led = defineComponent({
  setup() {
    const on = useBoardState(board, (state) => state.led.on);
    const toggle = useCommand(board, 'led');
    const fail = useCommand(board, 'fail');
    const status = useConnection(board);
    const presses = ref<string[]>([]);
    useBoardEvent(board, 'button', ({ pressed }) => presses.value.push(pressed ? 'down' : 'up'));
    return () =>
      h('div', [
        h('p', { id: 'status' }, status.value.status),
        h('p', { id: 'led' }, on.value === undefined ? 'unknown' : on.value ? 'on' : 'off'),
        h(
          'button',
          {
            type: 'button',
            id: 'toggle',
            disabled: toggle.pending.value,
            onClick: () => toggle.run({ state: 'toggle' }),
          },
          'Toggle',
        ),
        h('p', { id: 'result' }, toggle.result.value ? String(toggle.result.value.on) : ''),
        h('button', { type: 'button', id: 'fail', onClick: () => fail.run(null) }, 'Fail'),
        h('p', { id: 'error' }, fail.error.value?.code ?? ''),
        h(
          'ul',
          { id: 'presses' },
          presses.value.map((p) => h('li', p)),
        ),
      ]);
  },
});

const App = defineComponent({
  setup() {
    const shown = ref(true);
    return () =>
      h('div', [
        h(
          'button',
          { type: 'button', id: 'unmount', onClick: () => (shown.value = !shown.value) },
          shown.value ? 'Unmount' : 'Mount',
        ),
        shown.value ? h(Led) : null,
      ]);
  },
});

createApp(App).mount('#root');
(window as unknown as { ready: boolean }).ready = true;
