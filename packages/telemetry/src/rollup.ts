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

/**
 * Aggregate the readings a batch actually stored into rows of one tier
 * (`step` ms). Numeric keys per series (no string building per reading),
 * and the row of the previous reading is tried first: a batch is mostly in
 * time order per sensor.
 */
export function rollup(
  readings: readonly { seriesId: number; t: number; value: number }[],
  step: number,
): RollupDelta[] {
  const bySeries = new Map<number, Map<number, RollupDelta>>();
  const out: RollupDelta[] = [];
  let previous: RollupDelta | undefined;
  for (const { seriesId, t, value } of readings) {
    const start = t - (((t % step) + step) % step);
    let row = previous && previous.seriesId === seriesId && previous.t === start ? previous : undefined;
    if (!row) {
      let rows = bySeries.get(seriesId);
      if (!rows) {
        rows = new Map();
        bySeries.set(seriesId, rows);
      }
      row = rows.get(start);
      if (!row) {
        row = { seriesId, t: start, min: value, max: value, sum: 0, count: 0, lastT: t, last: value };
        rows.set(start, row);
        out.push(row);
      }
    }
    previous = row;
    if (value < row.min) row.min = value;
    if (value > row.max) row.max = value;
    row.sum += value;
    row.count += 1;
    if (t > row.lastT || (t === row.lastT && value > row.last)) {
      row.lastT = t;
      row.last = value;
    }
  }
  // A fixed order: two writers lock rollup rows in the same order, so they never deadlock.
  return out.sort((a, b) => a.seriesId - b.seriesId || a.t - b.t);
}
