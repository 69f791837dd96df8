import { pathToFileURL } from 'node:url';
import { SimulatedBoard, type Waveform } from '@boardcast/board-adapter-gpio';
import type { ReadingInput } from './contract.js';
import { SENSOR_NAMES } from './sensors.js';

export interface SimulatedDeviceOptions {
  /** Base URL of the dashboard, e.g. `http://localhost:3001`. */
  readonly url: string;
  /** Bearer token, when the server requires one. */
  readonly token?: string | undefined;
  /** Milliseconds between posts (default 1000). */
  readonly intervalMs?: number;
  /** The device id sent as `?device=`; none: the dashboard's default device. */
  readonly device?: string | undefined;
  /** Called after every post with the HTTP status, or the network error. */
  readonly onPost?: (result: { status: number } | { error: unknown }) => void;
}

const noisy =
  (base: (t: number) => number, noise: number): Waveform =>
  (t) =>
    base(t) + (Math.random() - 0.5) * noise;
const wave = (mid: number, amplitude: number, periodMs: number) => (t: number) =>
  mid + amplitude * Math.sin((2 * Math.PI * t) / periodMs);

/**
 * Behaves exactly like the ESP32 snippet in `device/`: reads its sensors,
 * then POSTs them as one JSON batch without timestamps (a board without NTP
 * has no wall clock; the server stamps receipt time). The readings come from
 * the GPIO adapter's simulated board, so swapping in real hardware changes
 * only where `readSensor` gets its numbers.
 */
export function runSimulatedDevice(options: SimulatedDeviceOptions): () => void {
  // Each device its own phase, so several of them do not draw the same curves.
  const phase = options.device ? [...options.device].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 100_000, 7) : 0;
  const board = new SimulatedBoard({
    id: options.device ?? 'sim-esp32',
    sensors: {
      // A slow day/night swing that crosses the default 30 °C alarm now and then.
      temperature: noisy((t) => wave(25, 6, 90_000)(t + phase), 0.6),
      humidity: noisy((t) => wave(55, 15, 130_000)(t + phase), 2),
      light: noisy((t) => wave(600, 450, 60_000)(t + phase), 40),
    },
  });
  const endpoint = new URL('/api/readings', options.url);
  if (options.device) endpoint.searchParams.set('device', options.device);
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let stopped = false;
  let busy = false;

  const tick = async () => {
    // Never overlap posts: a slow server must not make the device pile up requests.
    if (busy || stopped) return;
    busy = true;
    try {
      const readings: ReadingInput[] = [];
      for (const sensor of SENSOR_NAMES) {
        const value = await board.readSensor(sensor);
        readings.push({ sensor, value: Math.round(Math.max(0, value) * 10) / 10 });
      }
      const response = await fetch(endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify(readings),
        signal: AbortSignal.timeout(5000),
      });
      await response.arrayBuffer();
      options.onPost?.({ status: response.status });
    } catch (error) {
      options.onPost?.({ error });
    } finally {
      busy = false;
    }
  };

  const timer = setInterval(tick, options.intervalMs ?? 1000);
  void tick();
  return () => {
    stopped = true;
    clearInterval(timer);
    void board.close();
  };
}

/** `node dist/simulated-device.js` — settings come from the environment so the server can spawn it. */
function main(): void {
  const url = process.env.DASHBOARD_URL ?? 'http://localhost:3001';
  // DEVICE_IDS=a,b,c: one simulated device per id, in this one process; unset: the default device.
  const ids = (process.env.DEVICE_IDS ?? '').split(',').filter((id) => id !== '');
  const stops = (ids.length > 0 ? ids : [undefined]).map((device) => {
    const name = device ? `[device ${device}]` : '[device]';
    let lastProblem = '';
    return runSimulatedDevice({
      url,
      device,
      token: process.env.INGEST_TOKEN,
      intervalMs: Number(process.env.DEVICE_INTERVAL_MS) || 1000,
      onPost(result) {
        // Log a problem once, not every second, and say when it clears.
        const problem =
          'error' in result ? `cannot reach ${url}` : result.status === 200 ? '' : `HTTP ${result.status}`;
        if (problem !== lastProblem) console.log(problem ? `${name} ${problem}` : `${name} posting readings again`);
        lastProblem = problem;
      },
    });
  });
  const stop = () => {
    for (const s of stops) s();
  };
  const quit = () => {
    stop();
    process.exit(0);
  };
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
  // Spawned with an IPC channel: when the server goes away, so does the device.
  process.on('disconnect', quit);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
