import { type BoardcastClient, BoardcastError, connect } from '@boardcast/browser-client';
import type uPlot from 'uplot';
import { type DashboardState, dashboard, setAlarmInput } from '../contract.js';
import { type AlarmLevel, SENSOR_NAMES, SENSORS, type SensorName } from '../sensors.js';
import { formatAge, formatTime, formatValue } from './format.js';
import { RANGES, type RangeId, SensorHistory } from './history.js';
import { createSensorCard, type SensorCard, type SubmitOutcome } from './sensor-card.js';
import './style.css';

type Transport = 'sse' | 'ws';
type Client = BoardcastClient<typeof dashboard>;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const connection = $<HTMLParagraphElement>('connection');
const deviceLine = $<HTMLParagraphElement>('device');
const banner = $<HTMLDivElement>('alarm-banner');
const injectResult = $<HTMLParagraphElement>('inject-result');

// Everything shown comes from the client's state mirror: the snapshot, then
// every event folded by the contract's reducers (the same ones the server
// runs), so the page's points and stats are the server's.
let shown: DashboardState | undefined;
let client: Client | undefined;
let transport: Transport = new URLSearchParams(location.search).get('transport') === 'ws' ? 'ws' : 'sse';
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
const rangeParam = new URLSearchParams(location.search).get('range');
let range = RANGES.find((r) => r.id === rangeParam) ?? (RANGES[1] as (typeof RANGES)[number]);

/**
 * History from the store for every sensor, then live readings after each
 * answer's cursor (SensorHistory). Called once the stream has its snapshot
 * (first connect, and again after a reset: the server restarted), and when
 * the range changes. The server flushes its recorder first, so the cursor
 * covers every reading up to the snapshot.
 */
function loadHistory(): void {
  for (const sensor of SENSOR_NAMES) {
    const width = cards[sensor].chart.width;
    histories[sensor].load(range.ms, width).then(
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
    const url = new URL(location.href);
    url.searchParams.set('range', next.id);
    history.replaceState(null, '', url);
    for (const sensor of SENSOR_NAMES) histories[sensor].reset();
    loadHistory();
  });
}

/** What tests (and curious users in the console) can inspect. */
const exposed = {
  charts: Object.fromEntries(SENSOR_NAMES.map((s) => [s, cards[s].chart])) as Record<SensorName, uPlot>,
  get state() {
    return client?.state;
  },
  get transport() {
    return transport;
  },
  get status() {
    return client?.status ?? 'closed';
  },
  /** Reading events received since load, live or replayed (not from snapshots). */
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
    if (series) {
      levels.set(
        sensor,
        cards[sensor].render(histories[sensor], series.stats.last, shown?.alarms[sensor], range.label),
      );
    }
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
    banner.append(Object.assign(document.createElement('strong'), { textContent: 'Alarm' }), list);
  }
}

/** The mirrored state changed: redraw what changed (the reducers keep unchanged parts the same objects). */
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
  if (!device || device.lastSeenAt === null) {
    deviceLine.textContent = 'Device: not seen yet';
    deviceLine.dataset.online = 'false';
    return;
  }
  const age = Date.now() - device.lastSeenAt;
  const online = age <= device.staleAfterMs;
  deviceLine.dataset.online = String(online);
  deviceLine.textContent = `Device: ${online ? 'online' : 'offline'}, last seen ${formatTime(device.lastSeenAt)} (${formatAge(age)})`;
}
setInterval(renderDevice, 1000);

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
  const c: Client = connect('/api', dashboard, { transport: next });
  client = c;
  shown = undefined;
  c.subscribe(() => {
    if (client === c) update(c.state);
  });
  c.on('reading', (reading, id) => {
    exposed.received++;
    if (histories[reading.sensor].add(id, reading.at, reading.value)) schedule(reading.sensor);
  });
  // Every snapshot starts the page over: the history is loaded for it (a restarted server resets the stream).
  c.on('snapshot', () => {
    if (client !== c) return;
    for (const sensor of SENSOR_NAMES) histories[sensor].reset();
    loadHistory();
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
    const url = new URL(location.href);
    url.searchParams.set('transport', value);
    history.replaceState(null, '', url);
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
  try {
    // The `alarms` event updates the state (and the form) for every page, this one included.
    const result = await client!.command('set_alarm', checked.data);
    const t = result[sensor];
    return { ok: true, message: `Saved: low ${formatValue(sensor, t.low)}, high ${formatValue(sensor, t.high)}` };
  } catch (error) {
    return { ok: false, message: error instanceof BoardcastError ? error.message : 'could not save' };
  }
}

for (const count of [1, 10]) {
  $<HTMLButtonElement>(`inject-${count}`).addEventListener('click', async (event) => {
    const button = event.currentTarget as HTMLButtonElement;
    button.disabled = true;
    try {
      const { readings } = await client!.command('inject', { count });
      injectResult.textContent = `Injected ${readings.length} readings.`;
    } catch (error) {
      injectResult.textContent = `Inject failed: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      button.disabled = false;
    }
  });
}

start(transport);
