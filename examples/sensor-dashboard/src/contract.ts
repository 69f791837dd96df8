import { defineContract, typed } from '@boardcast/core';
import { en } from 'zod/locales';
import * as z from 'zod/mini';
import { type Alarms, SENSOR_NAMES, SENSORS, type SensorName } from './sensors.js';
import { SeriesBuffer, type SeriesPoint, type SeriesStats } from './series-buffer.js';

/** The directory's `kind` of a device: each device is a channel of the hub, listed in its directory. */
export const DEVICE_KIND = 'sensor-device';

/** Largest batch one `POST /api/readings` may carry. */
export const MAX_BATCH = 500;
/** How far ahead of the server's clock a device timestamp may be. */
export const MAX_CLOCK_AHEAD_MS = 60_000;
/**
 * Any `at` below this (Sep 2001 in ms) is almost certainly seconds, not
 * milliseconds: MicroPython's `time.time()` returns seconds.
 */
const MIN_EPOCH_MS = 1e12;

// zod/mini keeps the page bundle small (the classic API pulls in ~450 KB);
// the English locale turns its bare "Invalid input" into a useful message.
z.config(en());

export const sensorName = z.enum(SENSOR_NAMES as [SensorName, ...SensorName[]]);

function inRange(sensor: SensorName, value: number): string | undefined {
  const { min, max, unit } = SENSORS[sensor];
  return value < min || value > max ? `${sensor} must be between ${min} and ${max} ${unit} (got ${value})` : undefined;
}

/** One reading as a device sends it. Strict: a typo such as `valeu` is an error, not a silently missing value. */
export const readingInput = z
  .strictObject({
    sensor: sensorName,
    value: z.number(),
    at: z.optional(z.int()),
  })
  .check(
    z.superRefine((reading, ctx) => {
      const problem = inRange(reading.sensor, reading.value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['value'] });
      if (reading.at !== undefined) {
        if (reading.at < MIN_EPOCH_MS) {
          ctx.addIssue({
            code: 'custom',
            message: 'at must be milliseconds since the epoch (this looks like seconds)',
            path: ['at'],
          });
        } else if (reading.at > Date.now() + MAX_CLOCK_AHEAD_MS) {
          ctx.addIssue({ code: 'custom', message: 'at is in the future (is the device clock set?)', path: ['at'] });
        }
      }
    }),
  );

/** The body of `POST /api/readings`: one reading or a non-empty batch, accepted or refused as a whole. */
export const readingsBatch = z.array(readingInput).check(z.minLength(1), z.maxLength(MAX_BATCH));
export const readingsBody = z.union([readingInput, readingsBatch]);

export type ReadingInput = z.input<typeof readingInput>;

/** A stored reading: the server fills in `at` when the device has no clock. */
export interface Reading {
  readonly sensor: SensorName;
  readonly value: number;
  /** Milliseconds since the epoch. */
  readonly at: number;
}

export interface SensorSeries {
  /** Oldest first, at most `capacity` points. */
  readonly points: SeriesPoint[];
  readonly stats: SeriesStats;
}

export interface DeviceStatus {
  /** When the last ingest request arrived (server clock, ms); `null` before the first. */
  readonly lastSeenAt: number | null;
  /** Readings accepted from devices since the server started (injected ones not counted). */
  readonly readings: number;
  /** A device not heard from for this long is shown as offline. */
  readonly staleAfterMs: number;
}

export interface DashboardState {
  /** Readings kept per sensor; the page keeps the same number. */
  readonly capacity: number;
  readonly sensors: Readonly<Record<SensorName, SensorSeries>>;
  readonly alarms: Alarms;
  readonly device: DeviceStatus;
}

const threshold = z.nullable(z.number());

export const setAlarmInput = z.strictObject({ sensor: sensorName, low: threshold, high: threshold }).check(
  z.superRefine((input, ctx) => {
    for (const key of ['low', 'high'] as const) {
      const value = input[key];
      if (value === null) continue;
      const problem = inRange(input.sensor, value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: [key] });
    }
    if (input.low !== null && input.high !== null && input.low >= input.high) {
      ctx.addIssue({ code: 'custom', message: 'low must be below high', path: ['low'] });
    }
  }),
);

export const injectInput = z.strictObject({
  /** Random readings to add per sensor (the seed's "1 / 10 random values" buttons). */
  count: z.int().check(z.minimum(1), z.maximum(10)),
  /** Only this sensor; every sensor when omitted. */
  sensor: z.optional(sensorName),
});

/**
 * One reading added to a sensor's series: the last `capacity` points and
 * their stats, computed by the same `SeriesBuffer` on the server and in the
 * page, so both show the same numbers to the last bit.
 */
export function appendReading(series: SensorSeries | undefined, reading: Reading, capacity: number): SensorSeries {
  const buffer = new SeriesBuffer(capacity);
  for (const point of series?.points ?? []) buffer.push(point.value, point.at);
  buffer.push(reading.value, reading.at);
  return buffer.toJSON();
}

export const dashboard = defineContract({
  events: {
    reading: typed<Reading>(),
    alarms: typed<Alarms>(),
    device: typed<DeviceStatus>(),
  },
  commands: {
    set_alarm: { input: setAlarmInput, result: typed<Alarms>() },
    inject: { input: injectInput, result: typed<{ readings: Reading[] }>() },
  },
  state: typed<DashboardState>(),
  // Run by the hub for every event and by the page's state mirror: one folding.
  reducers: {
    reading: (state, reading) => ({
      ...state,
      sensors: {
        ...state.sensors,
        [reading.sensor]: appendReading(state.sensors[reading.sensor], reading, state.capacity),
      },
    }),
    alarms: (state, alarms) => ({ ...state, alarms }),
    device: (state, device) => ({ ...state, device }),
  },
});

export type DashboardContract = typeof dashboard;
