// The fleet page: the directory as a live list (paged), and the channels of
// the boards on the current page only — a thousand boards cost the page
// what fifty do. Rights come from the server: boards you may not see are
// not in your directory; switches of boards you may not control are greyed
// out (and the server refuses them anyway, `forbidden`).
import { connectChannels } from '@boardcast/browser-client/channels';
import { type DirectoryEntry, matchesChannel } from '@boardcast/core';
import { BUTTON_PIN, contract } from '../contract.js';

const PAGE_SIZE = 50;
const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;

interface Me {
  readonly user: string;
  readonly see: readonly string[];
  readonly control: readonly string[];
}

interface Row {
  readonly li: HTMLLIElement;
  readonly name: HTMLButtonElement;
  readonly status: HTMLElement;
  readonly seen: HTMLElement;
  readonly firmware: HTMLElement;
  readonly led: HTMLButtonElement;
  readonly button: HTMLElement;
  readonly temperature: HTMLElement;
  off: (() => void) | undefined;
  /** The board lists an output (from its directory entry, which may change). */
  switchable: boolean;
  /** A switch command is on its way (the switch stays disabled until it settles). */
  sending: boolean;
}

/** Does the directory entry list an output pin (`capabilities.pins[].modes` has `output`)? */
function hasOutput(entry: DirectoryEntry): boolean {
  const pins = (entry.capabilities as { pins?: readonly { modes?: readonly string[] }[] } | undefined)?.pins;
  return Array.isArray(pins) && pins.some((p) => Array.isArray(p.modes) && p.modes.includes('output'));
}

async function main(): Promise<void> {
  const response = await fetch('/api/me', { credentials: 'same-origin' });
  if (response.status === 401) {
    $('#status').textContent = 'Log in: open this address with ?token=<your token> once.';
    return;
  }
  const me = (await response.json()) as Me;
  $('#user').textContent = me.user;
  const canControl = (id: string) => me.control.some((pattern) => matchesChannel(pattern, id));

  const transport = new URLSearchParams(location.search).get('transport') === 'ws' ? 'ws' : 'sse';
  const fleet = connectChannels('/api', contract, { channels: ['~directory'], transport });
  fleet.onStatus(({ status }) => {
    $('#status').textContent = status;
    document.body.dataset.connection = status;
  });

  const rows = new Map<string, Row>();
  let page = 0;
  let onPage: string[] = [];
  let selected: string | undefined;

  function rowFor(entry: DirectoryEntry): Row {
    let row = rows.get(entry.id);
    if (row) return row;
    const li = document.createElement('li');
    li.dataset.board = entry.id;
    li.innerHTML =
      '<button class="name" type="button"></button><span class="status"></span><span class="seen"></span>' +
      '<span class="firmware"></span><button class="led" type="button">LED</button>' +
      '<span class="button" title="push-button">●</span><span class="temperature"></span>';
    const q = <T extends HTMLElement>(s: string) => li.querySelector(s) as T;
    q<HTMLButtonElement>('.name').addEventListener('click', () => select(entry.id));
    row = {
      li,
      name: q('.name'),
      status: q('.status'),
      seen: q('.seen'),
      firmware: q('.firmware'),
      led: q('.led'),
      button: q('.button'),
      temperature: q('.temperature'),
      off: undefined,
      switchable: false,
      sending: false,
    };
    const led = row.led;
    const current = row;
    led.addEventListener('click', () => {
      led.disabled = true;
      current.sending = true;
      fleet
        .channel(entry.id)
        .send('led', { state: 'toggle' })
        .catch((error: { code?: string }) => {
          $('#status').textContent = `${entry.id}: ${error.code ?? 'error'}`;
        })
        .finally(() => {
          current.sending = false;
          enableSwitch(current);
        });
    });
    rows.set(entry.id, row);
    return row;
  }

  function paint(id: string): void {
    const row = rows.get(id);
    const state = fleet.channel(id).state;
    if (!row || !state) return;
    row.led.textContent = state.led.on ? 'LED on' : 'LED off';
    row.led.classList.toggle('on', state.led.on);
    const pressed = state.inputs[String(BUTTON_PIN)]?.level === 0;
    row.button.classList.toggle('pressed', pressed);
    row.li.dataset.button = pressed ? 'pressed' : 'released';
    // Every sensor's latest reading (a simulated board has `temperature`, a
    // discovered device whatever it reports); `data-at` is when the newest was taken.
    const readings = Object.entries(state.readings);
    row.temperature.textContent = readings
      .map(([name, r]) => (/temperature/i.test(name) ? `${r.value.toFixed(1)} °C` : `${name} ${r.value}`))
      .join(' · ');
    const at = String(readings.reduce((latest, [, r]) => Math.max(latest, r.at), 0) || '');
    if (row.temperature.dataset.at !== at) row.temperature.dataset.at = at;
    if (id === selected) paintDetail(id);
  }

  function enableSwitch(row: Row): void {
    const id = row.li.dataset.board ?? '';
    row.led.disabled = !(row.switchable && canControl(id));
    row.led.title = !row.switchable
      ? 'this board has nothing to switch'
      : row.led.disabled
        ? 'you may watch this board, not switch it'
        : '';
  }

  function describe(row: Row, entry: DirectoryEntry): void {
    // No output among the board's capabilities (a sensor-only device, or one whose switch discovery refused).
    row.switchable = hasOutput(entry);
    // A device's discovery config may rename it.
    const name = entry.name ?? entry.id;
    if (row.name.textContent !== name) row.name.textContent = name;
    if (!row.sending) enableSwitch(row);
    row.status.textContent = entry.status ?? 'unknown';
    row.li.dataset.status = entry.status ?? 'unknown';
    row.firmware.textContent = entry.firmware ?? '';
    row.seen.dataset.at = String(entry.lastSeen ?? '');
  }

  function render(): void {
    const state = fleet.directory.state;
    const entries = state?.entries ?? [];
    const pages = Math.max(1, Math.ceil(entries.length / PAGE_SIZE));
    page = Math.min(page, pages - 1);
    const visible = entries.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    $('#count').textContent = `${entries.length} board${entries.length === 1 ? '' : 's'}`;
    $('#page').textContent = `${page + 1} / ${pages}`;
    const list = $('#boards');
    const ids = visible.map((e) => e.id);
    // Subscribe to what is shown, drop what is not: the page costs what it shows.
    const added = ids.filter((id) => !onPage.includes(id));
    const gone = onPage.filter((id) => !ids.includes(id));
    if (gone.length > 0) {
      fleet.unsubscribe(gone);
      for (const id of gone) {
        rows.get(id)?.off?.();
        rows.get(id)?.li.remove();
        rows.delete(id);
      }
    }
    for (const entry of visible) describe(rowFor(entry), entry);
    // Rebuild the list only when what it shows changed (a board came, went, or the page moved),
    // not for every status or lastSeen change of a board already on it.
    const shown = Array.from(list.children, (li) => (li as HTMLElement).dataset.board);
    if (shown.length !== ids.length || shown.some((id, i) => id !== ids[i])) {
      const fragment = document.createDocumentFragment();
      for (const id of ids) fragment.append((rows.get(id) as Row).li);
      list.replaceChildren(fragment);
    }
    if (added.length > 0) {
      fleet.subscribe(added);
      for (const id of added) {
        const row = rows.get(id);
        if (row && !row.off) row.off = fleet.channel(id).on('change', () => paint(id));
        paint(id);
      }
    }
    onPage = ids;
    tickSeen();
  }

  function tickSeen(): void {
    const now = Date.now();
    for (const row of rows.values()) {
      const at = Number(row.seen.dataset.at);
      row.seen.textContent = at > 0 ? `seen ${Math.max(0, Math.round((now - at) / 1000))} s ago` : '';
    }
  }

  function select(id: string): void {
    selected = id;
    $('#detail').hidden = false;
    paintDetail(id);
  }

  function paintDetail(id: string): void {
    const state = fleet.channel(id).state;
    const entry = fleet.directory.state?.entries.find((e) => e.id === id);
    $('#detail-name').textContent = entry?.name ?? id;
    $('#detail-body').textContent = JSON.stringify({ entry, state }, null, 2);
    const press = $('#press') as HTMLButtonElement;
    press.disabled = !canControl(id);
    press.onclick = () => {
      const level = state?.inputs[String(BUTTON_PIN)]?.level === 0 ? 1 : 0;
      void fleet
        .channel(id)
        .send('simulate', { pin: BUTTON_PIN, value: level })
        .catch(() => undefined);
    };
  }

  $('#prev').addEventListener('click', () => {
    page = Math.max(0, page - 1);
    render();
  });
  $('#next').addEventListener('click', () => {
    page += 1;
    render();
  });
  // A thousand boards change their directory entries (lastSeen, status) many times a second:
  // fold them all, draw at most once a frame.
  let drawing = false;
  fleet.directory.on('change', () => {
    if (drawing) return;
    drawing = true;
    requestAnimationFrame(() => {
      drawing = false;
      render();
    });
  });
  fleet.on('forbidden', (id: string) => {
    const row = rows.get(id);
    if (row) row.li.dataset.forbidden = 'true';
  });
  setInterval(tickSeen, 5000);
  render();
}

void main();
