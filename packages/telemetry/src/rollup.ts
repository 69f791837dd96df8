import type { CleanReading } from './validate.js';

/**
 * One rollup row's worth of new readings: merged into the stored row with
 * min/max, sum/count added, and `last` taken from whichever side has the
 * greater (timestamp, value) — the same rule the raw tier answers with, so
 * every tier gives the same `last`.
 */
export interface RollupDelta {
  readonly seriesId: number;
  readonly t: number;
  min: number;
  max: number;
  sum: number;
  count: number;
  lastT: number;
  last: number;
}

/** Aggregate the readings a batch actually stored into rows of one tier (`step` ms). */
export function rollup(
  readings: readonly { seriesId: number; t: number; value: number }[],
  step: number,
): RollupDelta[] {
  const rows = new Map<string, RollupDelta>();
  for (const { seriesId, t, value } of readings) {
    const start = Math.floor(t / step) * step;
    const key = `${seriesId}:${start}`;
    const row = rows.get(key);
    if (!row) {
      rows.set(key, { seriesId, t: start, min: value, max: value, sum: value, count: 1, lastT: t, last: value });
      continue;
    }
    if (value < row.min) row.min = value;
    if (value > row.max) row.max = value;
    row.sum += value;
    row.count += 1;
    if (t > row.lastT || (t === row.lastT && value > row.last)) {
      row.lastT = t;
      row.last = value;
    }
  }
  // A fixed order: two PostgreSQL writers lock rollup rows in the same order, so they never deadlock.
  return [...rows.values()].sort((a, b) => a.seriesId - b.seriesId || a.t - b.t);
}

export type { CleanReading };
