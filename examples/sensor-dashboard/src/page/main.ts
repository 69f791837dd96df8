import { type BoardcastClient, BoardcastError, connect } from '@boardcast/browser-client';
import { SeriesBuffer } from '@boardcast/core';
import type uPlot from 'uplot';
import { type DashboardState, type DeviceStatus, dashboard, type Reading, setAlarmInput } from '../contract.js';
import { type AlarmLevel, type Alarms, SENSOR_NAMES, SENSORS, type SensorName } from '../sensors.js';
import { formatAge, formatTime, formatValue } from './format.js';
import { createSensorCard, type SensorCard, type SubmitOutcome } from './sensor-card.js';
import './style.css';

type Transport = 'sse' | 'ws';
type Client = BoardcastClient<typeof dashboard>;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const connection = $<HTMLParagraphElement>('connection');
const deviceLine = $<HTMLParagraphElement>('device');
const banner = $<HTMLDivElement>('alarm-banner');
const injectResult = $<HTMLParagraphElement>('inject-result');

// The page keeps the same SeriesBuffer as the server: seeded from the
// snapshot, then fed every `reading`, so stats match without extra events.
let buffers = {} as Record<SensorName, SeriesBuffer>;
let alarms: Alarms | undefined;
let device: DeviceStatus | undefined;
let client: Client | undefined;
let transport: Transport = new URLSearchParams(location.search).get('transport') === 'ws' ? 'ws' : 'sse';
const dirty = new Set<SensorName>();
const levels = new Map<SensorName, AlarmLevel | null>();
let scheduled = false;

const cards = {} as Record<SensorName, SensorCard>;
const main = $<HTMLElement>('sensors');
for (const sensor of SENSOR_NAMES) {
  cards[sensor] = createSensorCard(sensor, main, () => alarms?.[sensor]);
  cards[sensor].onSubmit((low, high) => setAlarm(sensor, low, high));
}

/** What tests (and curious users in the console) can inspect. */
const exposed = {
  charts: Object.fromEntries(SENSOR_NAMES.map((s) => [s, cards[s].chart])) as Record<SensorName, uPlot>,
  get buffers() {
    return buffers;
  },
  get transport() {
    return transport;
  },
  get status() {
    return client?.status ?? 'closed';
  },
  /** Readings received since load, live or replayed (not from snapshots). */
  received: 0,
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
    const buffer = buffers[sensor];
    if (buffer) levels.set(sensor, cards[sensor].render(buffer, alarms?.[sensor]));
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
    const last = buffers[sensor]?.last;
    const limits = alarms?.[sensor];
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

function adopt(state: DashboardState): void {
  buffers = {} as Record<SensorName, SeriesBuffer>;
  for (const sensor of SENSOR_NAMES) {
    const buffer = new SeriesBuffer(state.capacity);
    for (const point of state.sensors[sensor]?.points ?? []) buffer.push(point.value, point.at);
    buffers[sensor] = buffer;
  }
  setAlarms(state.alarms);
  device = state.device;
  renderDevice();
  schedule();
}

function setAlarms(next: Alarms): void {
  alarms = next;
  for (const sensor of SENSOR_NAMES) cards[sensor].showThresholds(next[sensor]);
  schedule();
}

function onReading(reading: Reading): void {
  const buffer = buffers[reading.sensor];
  if (!buffer) return;
  exposed.received++;
  buffer.push(reading.value, reading.at);
  schedule(reading.sensor);
}

function renderDevice(): void {
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
  c.on('snapshot', adopt);
  c.on('reading', onReading);
  c.on('alarms', setAlarms);
  c.on('device', (status) => {
    device = status;
    renderDevice();
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
    const result = await client!.command('set_alarm', checked.data);
    setAlarms(result);
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
