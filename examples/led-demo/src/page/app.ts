import {
  type BoardcastClient,
  connect,
  isBoardcastError,
  type ServerStatus,
  type Status,
} from '@boardcast/browser-client';
import { contract, type DemoContract, type DemoState, type Level } from '../contract.js';

type Transport = 'sse' | 'ws';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const els = {
  boardId: $('board-id'),
  boardStatus: $('board-status'),
  time: $<HTMLTimeElement>('time'),
  conn: $('conn-status'),
  server: $('server-status'),
  degraded: $('server-degraded'),
  transport: $<HTMLSelectElement>('transport'),
  lamp: $('led-lamp'),
  ledState: $('led-state'),
  commandError: $('command-error'),
  inputs: $('inputs'),
  virtual: $('virtual-board'),
  virtualInputs: $('virtual-inputs'),
};

function initialTransport(): Transport {
  const fromUrl = new URLSearchParams(location.search).get('transport');
  if (fromUrl === 'sse' || fromUrl === 'ws') return fromUrl;
  return document.body.dataset.defaultTransport === 'ws' ? 'ws' : 'sse';
}

let client: BoardcastClient<DemoContract>;

function open(transport: Transport): void {
  client?.close();
  els.transport.value = transport;
  // The contract's reducers keep client.state current: the page only renders it.
  client = connect('/api', contract, { transport });
  client.subscribe(() => render(client.state));
  client.onStatus(({ status }) => showStatus(status));
  showStatus(client.status);
  client.onServer(showServer);
  showServer(client.server);
  if (client.state) render(client.state);
  window.__demo = { client, transport, rendered: window.__demo?.rendered ?? [] };
}

function showStatus(status: Status): void {
  els.conn.textContent = status;
  els.conn.dataset.status = status;
}

/**
 * The server tells us when it cannot reach Redis: the connection is still
 * `open`, but what the page shows may be stale and commands are refused
 * (`bus_unavailable`) until it is back.
 */
function showServer({ bus }: ServerStatus): void {
  els.server.textContent = bus;
  els.server.dataset.bus = bus;
  els.degraded.hidden = bus !== 'degraded';
  document.body.dataset.bus = bus;
}

// ---------------------------------------------------------------- rendering

let renderedInputs = '';

function render(state: DemoState | undefined): void {
  if (!state) return;
  const on = state.led.on;
  els.lamp.classList.toggle('on', on);
  els.ledState.textContent = on ? 'on' : 'off';
  els.ledState.dataset.on = String(on);

  els.time.textContent = new Date(state.time).toLocaleTimeString();
  els.time.dateTime = state.time;
  els.boardId.textContent = `${state.board.id} (${state.board.kind})`;
  els.boardStatus.textContent = state.board.status;
  els.boardStatus.dataset.status = state.board.status;

  const keys = Object.keys(state.inputs);
  const layout = keys.join(',');
  if (layout !== renderedInputs) {
    renderedInputs = layout;
    els.inputs.replaceChildren(
      ...keys.map((pin) => {
        const row = document.createElement('tr');
        row.id = `input-${pin}`;
        row.innerHTML = '<th scope="row"></th><td class="pin"></td><td class="level"></td><td class="active"></td>';
        return row;
      }),
    );
    buildVirtualBoard(state);
  }
  for (const pin of keys) {
    const input = state.inputs[pin];
    const row = document.getElementById(`input-${pin}`);
    if (!input || !row) continue;
    const active = input.level === input.activeLevel;
    const cells = row.children;
    (cells[0] as HTMLElement).textContent = input.name;
    (cells[1] as HTMLElement).textContent = input.label;
    (cells[2] as HTMLElement).textContent = input.level === 1 ? 'high' : 'low';
    const activeCell = cells[3] as HTMLElement;
    const text = active ? 'pressed' : 'released';
    if (activeCell.textContent !== text) {
      activeCell.textContent = text;
      activeCell.dataset.active = String(active);
      window.__demo?.rendered.push({ pin, text, at: performance.timeOrigin + performance.now() });
    }
  }
  els.virtual.hidden = state.board.kind !== 'simulated';
}

// ---------------------------------------------------------------- commands

for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-state]')) {
  button.addEventListener('click', async () => {
    const state = button.dataset.state as 'on' | 'off' | 'toggle';
    try {
      await client.command('led', { state });
      els.commandError.hidden = true;
    } catch (error) {
      els.commandError.hidden = false;
      els.commandError.textContent = isBoardcastError(error)
        ? `The LED did not switch: ${error.message} (${error.code})`
        : 'The LED did not switch.';
    }
  });
}

els.transport.addEventListener('change', () => {
  const transport = els.transport.value === 'ws' ? 'ws' : 'sse';
  const url = new URL(location.href);
  url.searchParams.set('transport', transport);
  history.replaceState(null, '', url);
  open(transport);
});

// ---------------------------------------------------------------- virtual board

function buildVirtualBoard(state: DemoState): void {
  els.virtualInputs.replaceChildren(
    ...Object.entries(state.inputs).map(([pin, input]) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.id = `sim-${pin}`;
      button.textContent = `Hold ${input.name} (${input.label})`;
      button.setAttribute('aria-pressed', 'false');
      const idle = (input.activeLevel === 1 ? 0 : 1) as Level;
      let held = false;
      const drive = (pressed: boolean) => {
        if (held === pressed) return;
        held = pressed;
        button.setAttribute('aria-pressed', String(pressed));
        void fetch(`/api/sim/inputs/${pin}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ value: pressed ? input.activeLevel : idle }),
        });
      };
      button.addEventListener('pointerdown', (e) => {
        button.setPointerCapture(e.pointerId);
        drive(true);
      });
      for (const type of ['pointerup', 'pointercancel', 'lostpointercapture'] as const) {
        button.addEventListener(type, () => drive(false));
      }
      button.addEventListener('keydown', (e) => {
        if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) {
          e.preventDefault();
          drive(true);
        }
      });
      button.addEventListener('keyup', (e) => {
        if (e.key === ' ' || e.key === 'Enter') drive(false);
      });
      button.addEventListener('blur', () => drive(false));
      return button;
    }),
  );
}

declare global {
  interface Window {
    __demo?: {
      client: BoardcastClient<DemoContract>;
      transport: Transport;
      /** When each input's "pressed/released" text changed (epoch ms, high resolution): read by tests and the latency script. */
      rendered: { pin: string; text: string; at: number }[];
    };
  }
}

open(initialTransport());
