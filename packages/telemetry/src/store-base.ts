import { BoardcastError } from '@boardcast/core';
import { DEFAULT_RETENTION, resolveRetention } from './tiers.js';
import type { Bucket, Reading, Retention, StoreOptions } from './types.js';
import { type CleanReading, cleanReading } from './validate.js';

/** Default window ahead of the store's clock in which a reading is still accepted. */
export const DEFAULT_MAX_CLOCK_AHEAD_MS = 5 * 60_000;
export const DEFAULT_PRUNE_INTERVAL_MS = 60_000;

export interface ResolvedOptions {
  readonly retention: Required<Retention>;
  readonly maxClockAheadMs: number;
  readonly pruneIntervalMs: number;
  readonly now: () => number;
}

export function resolveOptions(options: StoreOptions): ResolvedOptions {
  const maxClockAheadMs = options.maxClockAheadMs ?? DEFAULT_MAX_CLOCK_AHEAD_MS;
  if (!(maxClockAheadMs >= 0)) throw new RangeError('maxClockAheadMs must be a number >= 0');
  const pruneIntervalMs = options.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS;
  if (!(pruneIntervalMs >= 0)) throw new RangeError('pruneIntervalMs must be a number >= 0');
  return {
    retention: resolveRetention(options.retention ?? DEFAULT_RETENTION),
    maxClockAheadMs,
    pruneIntervalMs,
    now: options.now ?? Date.now,
  };
}

/** A batch checked and split by the clock rule (see README, "Clock rules"). */
export interface SortedBatch {
  readonly accepted: CleanReading[];
  readonly tooOld: number;
  readonly tooNew: number;
}

/**
 * Check every reading first (one bad reading refuses the whole batch, nothing
 * written), then drop those outside the clock window: older than the raw
 * tier keeps (it could not be checked for duplicates and would be pruned at
 * once) or further ahead than `maxClockAheadMs`.
 */
export function sortBatch(readings: readonly Reading[], options: ResolvedOptions): SortedBatch {
  if (!Array.isArray(readings)) throw new BoardcastError('invalid_payload', 'readings must be an array');
  const clean = readings.map((reading, index) => cleanReading(reading, index));
  const now = options.now();
  const oldest = now - options.retention.raw;
  const newest = now + options.maxClockAheadMs;
  const accepted: CleanReading[] = [];
  let tooOld = 0;
  let tooNew = 0;
  for (const reading of clean) {
    if (reading.t < oldest) tooOld += 1;
    else if (reading.t > newest) tooNew += 1;
    else accepted.push(reading);
  }
  return { accepted, tooOld, tooNew };
}

export function closedError(): BoardcastError {
  return new BoardcastError('closed', 'the telemetry store is closed');
}

/** `setInterval` that does not keep the process alive, reporting failures. */
export function pruneTimer(intervalMs: number, prune: () => Promise<unknown>, onError: (error: unknown) => void) {
  if (intervalMs === 0) return undefined;
  const timer = setInterval(() => {
    prune().catch(onError);
  }, intervalMs);
  timer.unref?.();
  return timer;
}

export function seriesKey(channel: string, sensor: string): string {
  return `${channel}\u0000${sensor}`;
}

/** One bucket as both stores read it: the aggregates of its rows, `b` its start. */
export interface BucketRow {
  readonly b: number;
  readonly min: number;
  readonly max: number;
  readonly sum: number;
  readonly count: number;
  readonly last: number;
}

export function toBucket(row: BucketRow): Bucket {
  return { t: row.b, min: row.min, max: row.max, avg: row.sum / row.count, count: row.count, last: row.last };
}
