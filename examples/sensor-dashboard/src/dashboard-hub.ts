import { BoardcastError, createHub, type Hub, SeriesBuffer } from '@boardcast/core';
import { type DashboardState, dashboard, type Reading, type ReadingInput, type SensorSeries } from './contract.js';
import { type Alarms, DEFAULT_ALARMS, SENSOR_NAMES, SENSORS, type SensorName } from './sensors.js';

export interface DashboardHubOptions {
  /** Readings kept per sensor for the chart and the stats (default 120). */
  readonly capacity?: number;
  /** A device silent for this long is shown as offline (default 10000 ms). */
  readonly staleAfterMs?: number;
  /** Starting alarm thresholds (default {@link DEFAULT_ALARMS}). */
  readonly alarms?: Alarms;
  /** Events kept for resume after a reconnect (default 2000). */
  readonly history?: number;
  /** Register the `inject` command (default true). */
  readonly inject?: boolean;
}

export type Source = 'device' | 'injected';

export interface DashboardHub {
  readonly hub: Hub<typeof dashboard>;
  /**
   * Store validated readings and publish them. All or nothing: an
   * out-of-order timestamp anywhere refuses the whole batch before anything
   * is stored. Throws `BoardcastError('invalid_payload')`.
   */
  accept(readings: readonly ReadingInput[], source: Source): Reading[];
}

/**
 * The hub plus the per-sensor `SeriesBuffer`s behind it. The snapshot state
 * is rebuilt for the sensors a request touched, synchronously before the
 * events are published, so a page that connects between two readings gets a
 * snapshot and a live stream that neither overlap nor leave a gap.
 */
export function createDashboardHub(options: DashboardHubOptions = {}): DashboardHub {
  const capacity = options.capacity ?? 120;
  const buffers = Object.fromEntries(SENSOR_NAMES.map((name) => [name, new SeriesBuffer(capacity)])) as Record<
    SensorName,
    SeriesBuffer
  >;
  const series = (name: SensorName): SensorSeries => ({
    points: buffers[name].toArray(),
    stats: buffers[name].stats(),
  });
  const hub = createHub(dashboard, {
    history: options.history ?? 2000,
    state: {
      capacity,
      sensors: Object.fromEntries(SENSOR_NAMES.map((name) => [name, series(name)])) as DashboardState['sensors'],
      alarms: options.alarms ?? DEFAULT_ALARMS,
      device: { lastSeenAt: null, readings: 0, staleAfterMs: options.staleAfterMs ?? 10_000 },
    },
  });

  const accept = (inputs: readonly ReadingInput[], source: Source): Reading[] => {
    const now = Date.now();
    const newest = new Map<SensorName, number>();
    const readings: Reading[] = [];
    // Check the whole batch first; nothing is stored unless every reading fits.
    inputs.forEach((input, index) => {
      const previous = newest.get(input.sensor) ?? buffers[input.sensor].last?.at ?? Number.NEGATIVE_INFINITY;
      // A clockless device gets the receipt time, never earlier than what is stored (uPlot needs sorted x).
      const at = input.at ?? Math.max(now, previous);
      if (at < previous) {
        throw new BoardcastError(
          'invalid_payload',
          `${inputs.length > 1 ? `${index}.` : ''}at: older than the newest stored ${input.sensor} reading (readings must arrive in time order)`,
        );
      }
      newest.set(input.sensor, at);
      readings.push({ sensor: input.sensor, value: input.value, at });
    });

    for (const reading of readings) buffers[reading.sensor].push(reading.value, reading.at);
    hub.setState((state) => {
      const sensors = { ...state.sensors };
      for (const name of newest.keys()) sensors[name] = series(name);
      const device =
        source === 'device'
          ? { ...state.device, lastSeenAt: now, readings: state.device.readings + readings.length }
          : state.device;
      return { ...state, sensors, device };
    });
    for (const reading of readings) hub.publish('reading', reading);
    if (source === 'device') hub.publish('device', hub.state.device);
    return readings;
  };

  hub.handle('set_alarm', ({ sensor, low, high }) => {
    const alarms = { ...hub.state.alarms, [sensor]: { low, high } };
    hub.setState((state) => ({ ...state, alarms }));
    hub.publish('alarms', alarms);
    return alarms;
  });

  if (options.inject ?? true) {
    hub.handle('inject', ({ count, sensor }) => {
      const names = sensor ? [sensor] : SENSOR_NAMES;
      const batch: ReadingInput[] = [];
      for (let i = 0; i < count; i++) {
        for (const name of names) {
          const [lo, hi] = SENSORS[name].typical;
          const factor = 10 ** SENSORS[name].decimals;
          batch.push({ sensor: name, value: Math.round((lo + Math.random() * (hi - lo)) * factor) / factor });
        }
      }
      return { readings: accept(batch, 'injected') };
    });
  }

  return { hub, accept };
}
