import { BoardcastError, createHub, DEFAULT_CHANNEL, type Hub } from '@boardcast/core';
import { requireControl } from './access.js';
import {
  type DashboardState,
  DEVICE_KIND,
  dashboard,
  type Reading,
  type ReadingInput,
  type SensorSeries,
} from './contract.js';
import { type Alarms, DEFAULT_ALARMS, SENSOR_NAMES, SENSORS, type SensorName } from './sensors.js';
import { SeriesBuffer } from './series-buffer.js';

export interface DashboardHubOptions {
  /** Readings kept per sensor for the chart and the stats (default 120). */
  readonly capacity?: number;
  /** A device silent for this long is shown as offline (default 10000 ms). */
  readonly staleAfterMs?: number;
  /** Starting alarm thresholds of every device (default {@link DEFAULT_ALARMS}). */
  readonly alarms?: Alarms;
  /** Events kept per device for resume after a reconnect (default 2000). */
  readonly history?: number;
  /** Register the `inject` command (default true). */
  readonly inject?: boolean;
  /**
   * Devices listed from the start, before they send anything (the simulated
   * ones). Others appear with their first reading. Default
   * `[DEFAULT_CHANNEL]`: the single device that sends no id.
   */
  readonly devices?: readonly string[];
  /**
   * Named devices the dashboard takes at most, besides the default one; a
   * reading for one more is refused with 503 `too_many_channels` (ids come
   * from the network). Default 1000.
   */
  readonly maxDevices?: number;
}

export type Source = 'device' | 'injected';

export interface DashboardHub {
  readonly hub: Hub<typeof dashboard>;
  /**
   * Store validated readings of one device (its channel; default
   * {@link DEFAULT_CHANNEL}, the single-device dashboard) and publish them.
   * All or nothing: an out-of-order timestamp anywhere refuses the whole
   * batch before anything is stored. Throws `BoardcastError`
   * `invalid_payload` (a bad reading or device id) or `too_many_channels`.
   */
  accept(readings: readonly ReadingInput[], source: Source, device?: string): Reading[];
  /**
   * Bring back a device known from the readings store after a restart: it is
   * listed (directory `status` offline until it sends again), its state gets
   * `readings` (its newest stored ones, oldest first) and `lastSeenAt`/the
   * directory's `lastSeen` the newest one's time. Call it before the
   * recorder subscribes, or the readings are written a second time. Throws
   * `invalid_payload` (a bad device id) or `too_many_channels`.
   */
  restore(device: string, readings: readonly Reading[]): void;
  /** Stops the timer that marks silent devices offline in the directory. */
  close(): void;
}

/**
 * The hub, one channel per device, its contract's reducers folding every
 * `reading`, `alarms` and `device` event of a device into that device's
 * state (the last `capacity` points and their stats per sensor). Nothing
 * here sets state beside a publish: a page that connects between two
 * readings gets a snapshot and a live stream that neither overlap nor leave
 * a gap, because both come from the same events. Each device is an entry of
 * the hub's directory (`kind` {@link DEVICE_KIND}, `status` online/offline,
 * `lastSeen`), which the page lists.
 */
export function createDashboardHub(options: DashboardHubOptions = {}): DashboardHub {
  const capacity = options.capacity ?? 120;
  const staleAfterMs = options.staleAfterMs ?? 10_000;
  const empty = (): SensorSeries => new SeriesBuffer(capacity).toJSON();
  const hub = createHub(dashboard, {
    history: options.history ?? 2000,
    // Device ids come from the network: bound the channels they can create (the hub's
    // default channel, the device that sends no id, always exists besides them).
    maxChannels: (options.maxDevices ?? 1000) + 1,
    state: {
      capacity,
      sensors: Object.fromEntries(SENSOR_NAMES.map((name) => [name, empty()])) as DashboardState['sensors'],
      alarms: options.alarms ?? DEFAULT_ALARMS,
      device: { lastSeenAt: null, readings: 0, staleAfterMs },
    },
  });
  const report = (promise: Promise<unknown>, where: string) =>
    promise.catch((error: unknown) => hub.emit('error', error, where));

  /** The device's channel, listed in the directory the first time. */
  const device = (id: string) => {
    const channel = hub.channel(id);
    if (!channel.entry) {
      report(
        channel.describe({ kind: DEVICE_KIND, status: 'offline', capabilities: { sensors: SENSOR_NAMES } }),
        'describe',
      );
    }
    return channel;
  };
  for (const id of options.devices ?? [DEFAULT_CHANNEL]) device(id);

  const accept = (inputs: readonly ReadingInput[], source: Source, id: string = DEFAULT_CHANNEL): Reading[] => {
    const channel = device(id);
    const now = Date.now();
    const newest = new Map<SensorName, number>();
    const readings: Reading[] = [];
    // Check the whole batch first; nothing is published unless every reading fits.
    inputs.forEach((input, index) => {
      const previous =
        newest.get(input.sensor) ?? channel.state.sensors[input.sensor].stats.last?.at ?? Number.NEGATIVE_INFINITY;
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
    for (const reading of readings) void channel.publish('reading', reading);
    if (source === 'device') {
      const status = channel.state.device;
      void channel.publish('device', { ...status, lastSeenAt: now, readings: status.readings + readings.length });
      if (channel.entry?.status !== 'online') report(channel.describe({ status: 'online' }), 'describe');
      report(channel.seen(now), 'seen');
    }
    return readings;
  };

  const restore = (id: string, readings: readonly Reading[]) => {
    const channel = device(id);
    let newest: number | undefined;
    for (const reading of readings) {
      void channel.publish('reading', reading);
      if (newest === undefined || reading.at > newest) newest = reading.at;
    }
    const status = channel.state.device;
    if (newest !== undefined && (status.lastSeenAt === null || newest > status.lastSeenAt)) {
      void channel.publish('device', { ...status, lastSeenAt: newest });
      report(channel.seen(newest), 'seen');
    }
  };

  // The directory says offline once a device has been silent for staleAfterMs (the page
  // says so from the device's own state too, to the second).
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const id of hub.channels) {
        const channel = hub.channel(id);
        const seen = channel.state.device.lastSeenAt;
        if (channel.entry?.status === 'online' && (seen === null || now - seen > staleAfterMs)) {
          report(channel.describe({ status: 'offline' }), 'describe');
        }
      }
    },
    Math.min(1000, staleAfterMs),
  );
  sweep.unref?.();

  /** The channel a command names: only a device the dashboard knows. */
  const target = (id: string) => {
    if (!hub.hasChannel(id) || !hub.channel(id).entry) {
      throw new BoardcastError('not_found', `no device "${id}"`);
    }
    return hub.channel(id);
  };

  // State-changing commands: the caller's `authorize` result must grant
  // control (access.ts), and a command whose client went away or whose time
  // ran out before it started changes nothing. Each acts on the device the
  // command names (`?channel=` over HTTP, the channel of a WS command).
  hub.handle('set_alarm', ({ sensor, low, high }, context) => {
    requireControl(context);
    context.signal.throwIfAborted();
    const channel = target(context.channel);
    const alarms = { ...channel.state.alarms, [sensor]: { low, high } };
    void channel.publish('alarms', alarms);
    return alarms;
  });

  if (options.inject ?? true) {
    hub.handle('inject', ({ count, sensor }, context) => {
      requireControl(context);
      context.signal.throwIfAborted();
      target(context.channel);
      const names = sensor ? [sensor] : SENSOR_NAMES;
      const batch: ReadingInput[] = [];
      for (let i = 0; i < count; i++) {
        for (const name of names) {
          const [lo, hi] = SENSORS[name].typical;
          const factor = 10 ** SENSORS[name].decimals;
          batch.push({ sensor: name, value: Math.round((lo + Math.random() * (hi - lo)) * factor) / factor });
        }
      }
      return { readings: accept(batch, 'injected', context.channel) };
    });
  }

  return { hub, accept, restore, close: () => clearInterval(sweep) };
}
