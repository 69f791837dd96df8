import { BoardcastError, createHub, type Hub } from '@boardcast/core';
import { requireControl } from './access.js';
import { type DashboardState, dashboard, type Reading, type ReadingInput, type SensorSeries } from './contract.js';
import { type Alarms, DEFAULT_ALARMS, SENSOR_NAMES, SENSORS, type SensorName } from './sensors.js';
import { SeriesBuffer } from './series-buffer.js';

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
 * The hub, its contract's reducers folding every `reading`, `alarms` and
 * `device` event into the snapshot state (the last `capacity` points and
 * their stats per sensor). Nothing here sets state beside a publish: a page
 * that connects between two readings gets a snapshot and a live stream that
 * neither overlap nor leave a gap, because both come from the same events.
 */
export function createDashboardHub(options: DashboardHubOptions = {}): DashboardHub {
  const capacity = options.capacity ?? 120;
  const empty = (): SensorSeries => new SeriesBuffer(capacity).toJSON();
  const hub = createHub(dashboard, {
    history: options.history ?? 2000,
    state: {
      capacity,
      sensors: Object.fromEntries(SENSOR_NAMES.map((name) => [name, empty()])) as DashboardState['sensors'],
      alarms: options.alarms ?? DEFAULT_ALARMS,
      device: { lastSeenAt: null, readings: 0, staleAfterMs: options.staleAfterMs ?? 10_000 },
    },
  });

  const accept = (inputs: readonly ReadingInput[], source: Source): Reading[] => {
    const now = Date.now();
    const newest = new Map<SensorName, number>();
    const readings: Reading[] = [];
    // Check the whole batch first; nothing is published unless every reading fits.
    inputs.forEach((input, index) => {
      const previous =
        newest.get(input.sensor) ?? hub.state.sensors[input.sensor].stats.last?.at ?? Number.NEGATIVE_INFINITY;
      // A clockless reading gets the receipt time, later than what is stored (uPlot needs sorted x):
      // several of one sensor in one request get successive milliseconds, so each is its own reading
      // in the store too (it drops a reading equal in sensor, time and value as a retried duplicate).
      const at = input.at ?? Math.max(now, previous + 1);
      if (at < previous) {
        throw new BoardcastError(
          'invalid_payload',
          `${inputs.length > 1 ? `${index}.` : ''}at: older than the newest stored ${input.sensor} reading (readings must arrive in time order)`,
        );
      }
      newest.set(input.sensor, at);
      readings.push({ sensor: input.sensor, value: input.value, at });
    });

    // The in-memory bus folds each publish before it returns, so the next
    // batch's time-order check above already sees these readings.
    for (const reading of readings) void hub.publish('reading', reading);
    if (source === 'device') {
      const device = hub.state.device;
      void hub.publish('device', { ...device, lastSeenAt: now, readings: device.readings + readings.length });
    }
    return readings;
  };

  // State-changing commands: the caller's `authorize` result must grant
  // control (access.ts), and a command whose client went away or whose time
  // ran out before it started changes nothing.
  hub.handle('set_alarm', ({ sensor, low, high }, context) => {
    requireControl(context);
    context.signal.throwIfAborted();
    const alarms = { ...hub.state.alarms, [sensor]: { low, high } };
    void hub.publish('alarms', alarms);
    return alarms;
  });

  if (options.inject ?? true) {
    hub.handle('inject', ({ count, sensor }, context) => {
      requireControl(context);
      context.signal.throwIfAborted();
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
