import { BoardcastError } from '@boardcast/core';
import type { ChartQuery, RangeQuery, Reading } from './types.js';

/**
 * Core's channel grammar (`packages/core/src/channel.ts`). Sensor names use
 * the same one: they appear in URLs and logs just like channel ids.
 */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** The single-board channel, as core names it (`DEFAULT_CHANNEL`). */
export const DEFAULT_CHANNEL = 'default';

/** Longest accepted unit string. */
const MAX_UNIT = 32;
/** Largest `maxPoints`: more than any screen draws. */
export const MAX_POINTS = 100_000;
export const MAX_RECENT = 10_000;

function refuse(message: string, details?: unknown): BoardcastError {
  return new BoardcastError('invalid_payload', message, { details });
}

export function checkName(value: unknown, what: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw refuse(`${what} must match ${NAME.source} (got ${JSON.stringify(value)?.slice(0, 80)})`);
  }
  return value;
}

export function checkTime(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw refuse(`${what} must be a finite number of ms since the epoch (got ${String(value)})`);
  }
  return Math.trunc(value);
}

/** A reading as stored: every field checked, `t` an integer. */
export interface CleanReading {
  readonly channel: string;
  readonly sensor: string;
  readonly t: number;
  readonly value: number;
  readonly unit: string | undefined;
}

/** Check one reading; throws `invalid_payload` naming the field. */
export function cleanReading(reading: Reading, index = 0): CleanReading {
  if (reading === null || typeof reading !== 'object') throw refuse(`reading ${index} is not an object`);
  const channel =
    reading.channel === undefined ? DEFAULT_CHANNEL : checkName(reading.channel, `reading ${index}: channel`);
  const sensor = checkName(reading.sensor, `reading ${index}: sensor`);
  const { value } = reading;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw refuse(`reading ${index}: value must be a finite number (got ${String(value)})`, { reason: 'not_finite' });
  }
  const t = checkTime(reading.t, `reading ${index}: t`);
  let unit: string | undefined;
  if (reading.unit !== undefined) {
    if (typeof reading.unit !== 'string' || reading.unit.length > MAX_UNIT) {
      throw refuse(`reading ${index}: unit must be a string of at most ${MAX_UNIT} characters`);
    }
    unit = reading.unit;
  }
  // -0 and 0 are one value to a chart and to the duplicate rule.
  return { channel, sensor, t, value: value === 0 ? 0 : value, unit };
}

export function cleanRange(query: RangeQuery): {
  channel: string;
  sensor: string;
  from: number;
  to: number | undefined;
} {
  if (query === null || typeof query !== 'object') throw refuse('query must be an object');
  const channel = query.channel === undefined ? DEFAULT_CHANNEL : checkName(query.channel, 'channel');
  const sensor = checkName(query.sensor, 'sensor');
  const from = checkTime(query.from, 'from');
  const to = query.to === undefined ? undefined : checkTime(query.to, 'to');
  if (to !== undefined && to <= from) throw refuse('to must be after from');
  return { channel, sensor, from, to };
}

export function cleanMaxPoints(query: ChartQuery): number {
  const n = query.maxPoints;
  if (!Number.isInteger(n) || n < 2 || n > MAX_POINTS) {
    throw refuse(`maxPoints must be an integer from 2 to ${MAX_POINTS} (got ${String(n)})`);
  }
  return n;
}

/** `store.latest()`'s filter, each name checked when given. */
export function cleanLatestFilter(filter: { readonly channel?: string; readonly sensor?: string }): {
  channel: string | undefined;
  sensor: string | undefined;
} {
  return {
    channel: filter.channel === undefined ? undefined : checkName(filter.channel, 'channel'),
    sensor: filter.sensor === undefined ? undefined : checkName(filter.sensor, 'sensor'),
  };
}

/** `store.recent()`'s query: the channel defaults to {@link DEFAULT_CHANNEL}, the limit to 10. */
export function cleanRecent(query: { readonly channel?: string; readonly sensor: string; readonly limit?: number }): {
  channel: string;
  sensor: string;
  limit: number;
} {
  const channel = query.channel === undefined ? DEFAULT_CHANNEL : checkName(query.channel, 'channel');
  return { channel, sensor: checkName(query.sensor, 'sensor'), limit: cleanLimit(query.limit) };
}

export function cleanLimit(limit: number | undefined): number {
  if (limit === undefined) return 10;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RECENT) {
    throw refuse(`limit must be an integer from 1 to ${MAX_RECENT} (got ${String(limit)})`);
  }
  return limit;
}

export function cleanSource(source: string | undefined): string {
  if (source === undefined) return 'default';
  return checkName(source, 'source');
}

/** `WriteOptions.eventId`: a non-empty string of at most 200 characters, or none; else `invalid_payload`. */
export function cleanEventId(eventId: unknown): string | undefined {
  if (eventId !== undefined && (typeof eventId !== 'string' || eventId === '' || eventId.length > 200)) {
    throw refuse('eventId must be a non-empty string of at most 200 characters');
  }
  return eventId;
}
