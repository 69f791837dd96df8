// The test page: built by Vite, driven in Chromium, Firefox and WebKit (engines.browser.test.ts).
// createElement instead of JSX, so the build needs no React plugin.
import { createBoardcast, useBoardEvent, useBoardState, useCommand, useConnection } from '@boardcast/react';
import { createElement as h, StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { contract } from '../contract.js';

const transport = new URLSearchParams(location.search).get('transport') === 'ws' ? 'ws' : 'sse';
const board = createBoardcast('/api', contract, { transport, graceMs: 200 });

function Led() {
  const on = useBoardState(board, (state) => state.led.on);
  const toggle = useCommand(board, 'led');
  const fail = useCommand(board, 'fail');
  const status = useConnection(board);
  const [presses, setPresses] = useState<string[]>([]);
  useBoardEvent(board, 'button', ({ pressed }) => setPresses((list) => [...list, pressed ? 'down' : 'up']));
  return h(
    'div',
    null,
    h('p', { id: 'status' }, status.status),
    h('p', { id: 'led' }, on === undefined ? 'unknown' : on ? 'on' : 'off'),
    h(
      'button',
      { type: 'button', id: 'toggle', disabled: toggle.pending, onClick: () => toggle.run({ state: 'toggle' }) },
      'Toggle',
    ),
    h('p', { id: 'result' }, toggle.result ? String(toggle.result.on) : ''),
    h('button', { type: 'button', id: 'fail', onClick: () => fail.run(null) }, 'Fail'),
    h('p', { id: 'error' }, fail.error?.code ?? ''),
    h('ul', { id: 'presses' }, ...presses.map((p, i) => h('li', { key: i }, p))),
  );
}

function App() {
  const [shown, setShown] = useState(true);
  return h(
    'div',
    null,
    h('button', { type: 'button', id: 'unmount', onClick: () => setShown((s) => !s) }, shown ? 'Unmount' : 'Mount'),
    shown ? h(Led) : null,
  );
}

createRoot(document.getElementById('root') as HTMLElement).render(h(StrictMode, null, h(App)));
(window as unknown as { ready: boolean }).ready = true;
