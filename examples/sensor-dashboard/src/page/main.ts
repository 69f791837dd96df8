import { type ChannelClient, type ChannelView, connectChannels } from '@boardcast/browser-client/channels';
import { BoardcastError, DIRECTORY, type DirectoryEntry, isChannelId } from '@boardcast/core';
import type uPlot from 'uplot';
import { type DashboardState, DEVICE_KIND, dashboard, setAlarmInput } from '../contract.js';
import { type AlarmLevel, SENSOR_NAMES, SENSORS, type SensorName } from '../sensors.js';
import { formatAge, formatTime, formatValue } from './format.js';
import { RANGES, type RangeId, SensorHistory } from './history.js';
import { createSensorCard, type SensorCard, type SubmitOutcome } from './sensor-card.js';
import './style.css';

type Transport = 'sse' | 'ws';
type Client = ChannelClient<typeof dashboard>;
type View = ChannelView<typeof dashboard>;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const connection = $<HTMLParagraphElement>('connection');
const deviceLine = $<HTMLParagraphElement>('device');
const deviceList = $<HTMLUListElement>('device-list');
const deviceTitle = $<HTMLHeadingElement>('device-title');
const banner = $<HTMLDivElement>('alarm-banner');
const injectResult = $<HTMLParagraphElement>('inject-result');

// One connection for the device list (the hub's directory) and the device
// shown (its channel). Everything shown of a device comes from its channel's
// state mirror: the snapshot, then every event of that device folded by the
// contract's reducers (the same ones the server runs), so the page's points
// and stats are the server's. Nothing of another device is ever folded here.
let shown: DashboardState | undefined;
let client: Client | undefined;
const params = new URLSearchParams(location.search);
let transport: Transport = params.get('transport') === 'ws' ? 'ws' : 'sse';
/**
 * `?device=` that is no device id (core's channel grammar): said at once on
 * the page, never subscribed (the server would refuse it only at the first
 * command); the list stays for picking a real one.
 */
const deviceParam = params.get('device') || undefined;
let invalidDevice: string | undefined =
  deviceParam !== undefined && !isChannelId(deviceParam) ? deviceParam : undefined;
/** The device shown: `?device=`, else the first one the directory lists. */
let selected: string | undefined = invalidDevice === undefined ? deviceParam : undefined;
/** Unsubscribes the listeners on the shown device's view. */
let detach: (() => void) | undefined;
const dirty = new Set<SensorName>();
const levels = new Map<SensorName, AlarmLevel | null>();
let scheduled = false;

const cards = {} as Record<SensorName, SensorCard>;
const histories = {} as Record<SensorName, SensorHistory>;
const main = $<HTMLElement>('sensors');
for (const sensor of SENSOR_NAMES) {
  cards[sensor] = createSensorCard(sensor, main, () => shown?.alarms[sensor]);
  cards[sensor].onSubmit((low, high) => setAlarm(sensor, low, high));
  histories[sensor] = new SensorHistory(sensor);
}

// The chart's range: from the address (`?range=1d`), else the last hour.
const rangeParam = params.get('range');
let range = RANGES.find((r) => r.id === rangeParam) ?? (RANGES[1] as (typeof RANGES)[number]);

/**
 * History of the shown device from the store for every sensor, then live
 * readings after each answer's cursor (SensorHistory). Called once the
 * device's channel has its snapshot (first subscribe, and again after a
 * reset: the server restarted), and when the range changes. The server
 * flushes its recorder first, so the cursor covers every reading up to the
 * snapshot.
 */
function loadHistory(): void {
  const device = selected;
  if (device === undefined) return;
  for (const sensor of SENSOR_NAMES) {
    const width = cards[sensor].chart.width;
    histories[sensor].load(range.ms, width, device).then(
      (done) => {
        if (!done) return;
        exposed.loads++;
        schedule(sensor);
      },
      (error: unknown) => {
        connection.textContent = `History unavailable: ${error instanceof Error ? error.message : String(error)}`;
      },
    );
  }
}

for (const input of document.querySelectorAll<HTMLInputElement>('input[name="range"]')) {
  input.checked = input.value === range.id;
  input.addEventListener('change', () => {
    const next = RANGES.find((r) => r.id === (input.value as RangeId));
    if (!input.checked || !next) return;
    range = next;
    setParam('range', next.id);
    for (const sensor of SENSOR_NAMES) histories[sensor].reset();
    loadHistory();
  });
}

function setParam(name: string, value: string): void {
  const url = new URL(location.href);
  url.searchParams.set(name, value);
  history.replaceState(null, '', url);
}

/** What tests (and curious users in the console) can inspect. */
const exposed = {
  charts: Object.fromEntries(SENSOR_NAMES.map((s) => [s, cards[s].chart])) as Record<SensorName, uPlot>,
  /** The shown device's state. */
  get state() {
    return shown;
  },
  get device() {
    return selected;
  },
  /** The devices the directory lists, by id. */
  get devices() {
    return devices().map((e) => e.id);
  },
  get transport() {
    return transport;
  },
  get status() {
    return client?.status ?? 'closed';
  },
  /** Reading events of the shown device received since load, live or replayed (not from snapshots). */
  received: 0,
  /** Histories loaded from the store (one per sensor per load). */
  loads: 0,
  histories,
  /** Duration of the last (at most 1000) redraws in ms, for bench/frame-time. */
  renderMs: [] as number[],
};
(window as unknown as { __dashboard: typeof exposed }).__dashboard = exposed;

// Redraw at most once per frame however fast readings arrive.
function schedule(sensor?: SensorName): void {
  if (sensor) dirty.add(sensor);
  else for (const name of SENSOR_NAMES) dirty.add(name);
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(render);
}

function render(): void {
  scheduled = false;
  const started = performance.now();
  for (const sensor of dirty) {
    const series = shown?.sensors[sensor];
    levels.set(
      sensor,
      cards[sensor].render(histories[sensor], series?.stats.last ?? null, shown?.alarms[sensor], range.label),
    );
  }
  dirty.clear();
  renderBanner();
  exposed.renderMs.push(performance.now() - started);
  if (exposed.renderMs.length > 1000) exposed.renderMs.shift();
}

function renderBanner(): void {
  const items: string[] = [];
  for (const sensor of SENSOR_NAMES) {
    const level = levels.get(sensor);
    const last = shown?.sensors[sensor]?.stats.last;
    const limits = shown?.alarms[sensor];
    if (!level || !last || !limits) continue;
    const limit = level === 'high' ? limits.high : limits.low;
    items.push(
      `${SENSORS[sensor].label} ${formatValue(sensor, last.value)} is ${level === 'high' ? 'above' : 'below'} the ${level} alarm threshold ${formatValue(sensor, limit)}`,
    );
  }
  const text = items.join('. ');
  // Only touch the live region when the message changes, so it is announced once.
  if (banner.dataset.text === text) return;
  banner.dataset.text = text;
  banner.hidden = items.length === 0;
  banner.replaceChildren();
  if (items.length > 0) {
    const list = document.createElement('ul');
    for (const item of items) list.append(Object.assign(document.createElement('li'), { textContent: item }));
    banner.append(
      Object.assign(document.createElement('strong'), { textContent: `Alarm on ${selected ?? 'the device'}` }),
      list,
    );
  }
}

/** The shown device's mirrored state changed: redraw what changed (the reducers keep unchanged parts the same objects). */
function update(state: DashboardState | undefined): void {
  const previous = shown;
  shown = state;
  if (!state) return;
  for (const sensor of SENSOR_NAMES) {
    if (previous?.sensors[sensor] !== state.sensors[sensor]) schedule(sensor);
  }
  if (previous?.alarms !== state.alarms) {
    for (const sensor of SENSOR_NAMES) cards[sensor].showThresholds(state.alarms[sensor]);
    schedule();
  }
  if (previous?.device !== state.device) renderDevice();
}

function renderDevice(): void {
  const device = shown?.device;
  if (invalidDevice !== undefined) {
    deviceLine.textContent = `Device ${JSON.stringify(invalidDevice.slice(0, 60))} is not a valid device id (1–128 of A–Z a–z 0–9 _ . : -, starting with a letter or digit): pick a device from the list`;
    deviceLine.dataset.online = 'invalid';
    return;
  }
  const name = `Device ${selected ?? ''}`.trim();
  if (!device || device.lastSeenAt === null) {
    deviceLine.textContent = `${name}: not seen yet`;
    deviceLine.dataset.online = 'false';
    return;
  }
  const age = Date.now() - device.lastSeenAt;
  const online = age <= device.staleAfterMs;
  deviceLine.dataset.online = String(online);
  deviceLine.textContent = `${name}: ${online ? 'online' : 'offline'}, last seen ${formatTime(device.lastSeenAt)} (${formatAge(age)})`;
}
setInterval(renderDevice, 1000);

/** The devices the directory lists, by id. */
function devices(): readonly DirectoryEntry[] {
  return client?.directory.state?.entries ?? [];
}

/** The device list: one button per device, the shown one pressed; its status as text. */
function renderDevices(): void {
  const entries = devices();
  if (selected === undefined && invalidDevice === undefined && entries[0]) select(entries[0].id);
  const rows = entries.map((entry) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.device = entry.id;
    button.setAttribute('aria-pressed', String(entry.id === selected));
    const status = entry.status ?? 'unknown';
    button.append(
      Object.assign(document.createElement('span'), { className: 'device-name', textContent: entry.name ?? entry.id }),
      Object.assign(document.createElement('span'), { className: 'device-status', textContent: status }),
    );
    button.dataset.status = status;
    button.addEventListener('click', () => select(entry.id));
    const item = document.createElement('li');
    item.append(button);
    return item;
  });
  deviceList.replaceChildren(...rows);
  if (entries.length === 0) {
    deviceList.append(Object.assign(document.createElement('li'), { textContent: 'No device has sent readings yet.' }));
  }
}

/**
 * Show `device`: its channel joins the connection (its snapshot first), the
 * previous one leaves it, and the charts, table, stats and alarms start over
 * from the new device's store history. Updates the address (`?device=`).
 */
function select(device: string): void {
  if (device === selected && detach) return;
  const previous = selected;
  selected = device;
  invalidDevice = undefined;
  setParam('device', device);
  deviceTitle.textContent = `Device ${device}`;
  for (const button of deviceList.querySelectorAll<HTMLButtonElement>('button[data-device]')) {
    button.setAttribute('aria-pressed', String(button.dataset.device === device));
  }
  if (!client) return;
  if (previous !== undefined && previous !== device) client.unsubscribe(previous);
  watch(client, device);
  client.subscribe(device);
}

/** Listen to the shown device's view; the listeners of the previous one go. */
function watch(c: Client, device: string): void {
  detach?.();
  for (const sensor of SENSOR_NAMES) histories[sensor].clear();
  shown = undefined;
  injectResult.textContent = '';
  schedule();
  renderDevice();
  const view: View = c.channel(device);
  const offs = [
    view.on('change', (state) => {
      if (client === c && selected === device) update(state);
    }),
    view.on('reading', (reading, id) => {
      if (client !== c || selected !== device) return;
      exposed.received++;
      // `id` is undefined only for a catch-up replay (a `since` subscription), which this page never asks for.
      if (histories[reading.sensor].add(id ?? '', reading.at, reading.value)) schedule(reading.sensor);
    }),
    // Every snapshot starts the device over: its history is loaded for it (a restarted server resets the stream).
    view.on('snapshot', () => {
      if (client !== c || selected !== device) return;
      for (const sensor of SENSOR_NAMES) histories[sensor].reset();
      loadHistory();
    }),
    view.on('forbidden', (error) => {
      if (client === c && selected === device) deviceLine.textContent = `${device}: ${error.message}`;
    }),
  ];
  detach = () => {
    for (const off of offs) off();
  };
  if (view.state) update(view.state);
}

const STATUS_TEXT = {
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting',
  closed: 'Disconnected',
};

function start(next: Transport): void {
  client?.close();
  transport = next;
  for (const input of document.querySelectorAll<HTMLInputElement>('input[name="transport"]')) {
    input.checked = input.value === next;
  }
  const c: Client = connectChannels('/api', dashboard, {
    transport: next,
    channels: [DIRECTORY, ...(selected === undefined ? [] : [selected])],
    directory: { kind: DEVICE_KIND },
  });
  client = c;
  detach?.();
  detach = undefined;
  if (selected !== undefined) watch(c, selected);
  c.directory.on('change', () => {
    if (client === c) renderDevices();
  });
  c.onStatus(({ status, delayMs, error }) => {
    if (client !== c) return;
    connection.dataset.status = status;
    let text = `${STATUS_TEXT[status]} (${next === 'ws' ? 'WebSocket' : 'SSE'})`;
    if (status === 'reconnecting' && delayMs !== undefined) text += ` in ${Math.ceil(delayMs / 1000)} s`;
    if (status === 'closed' && error) text += `: ${error.message}`;
    connection.textContent = text;
  });
}

for (const input of document.querySelectorAll<HTMLInputElement>('input[name="transport"]')) {
  input.addEventListener('change', () => {
    if (!input.checked) return;
    const value = input.value === 'ws' ? 'ws' : 'sse';
    setParam('transport', value);
    start(value);
  });
}

async function setAlarm(sensor: SensorName, lowText: string, highText: string): Promise<SubmitOutcome> {
  const parse = (text: string) => (text.trim() === '' ? null : Number(text.trim()));
  // The same schema the server checks with: errors show before a round trip.
  const checked = setAlarmInput.safeParse({ sensor, low: parse(lowText), high: parse(highText) });
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const field = issue?.path[0] === 'high' ? 'high' : 'low';
    const message =
      issue?.code === 'invalid_type' ? `${field} must be a number or empty` : (issue?.message ?? 'invalid');
    return { ok: false, message, invalid: [field] };
  }
  if (!client || selected === undefined) return { ok: false, message: 'no device shown' };
  try {
    // The `alarms` event updates the device's state (and the form) for every page, this one included.
    const result = await client.command('set_alarm', checked.data, { channel: selected });
    const t = result[sensor];
    return { ok: true, message: `Saved: low ${formatValue(sensor, t.low)}, high ${formatValue(sensor, t.high)}` };
  } catch (error) {
    return { ok: false, message: error instanceof BoardcastError ? error.message : 'could not save' };
  }
}

for (const count of [1, 10]) {
  $<HTMLButtonElement>(`inject-${count}`).addEventListener('click', async (event) => {
    const button = event.currentTarget as HTMLButtonElement;
    if (!client || selected === undefined) return;
    button.disabled = true;
    try {
      const { readings } = await client.command('inject', { count }, { channel: selected });
      injectResult.textContent = `Injected ${readings.length} readings.`;
    } catch (error) {
      injectResult.textContent = `Inject failed: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      button.disabled = false;
    }
  });
}

if (selected !== undefined) deviceTitle.textContent = `Device ${selected}`;
if (invalidDevice !== undefined) {
  deviceTitle.textContent = 'No device shown';
  renderDevice();
}
start(transport);
