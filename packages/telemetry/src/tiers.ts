import type { Retention, TierName } from './types.js';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export const DEFAULT_RETENTION: Required<Retention> = { raw: 48 * HOUR, minute: 30 * DAY, hour: Infinity };

/** Step of each tier: the rows of a rollup tier start at multiples of it. */
export const STEP: Readonly<Record<TierName, number>> = { raw: 1, minute: MINUTE, hour: HOUR };

export function resolveRetention(retention: Retention | undefined): Required<Retention> {
  const out = { ...DEFAULT_RETENTION, ...retention };
  for (const tier of ['raw', 'minute', 'hour'] as const) {
    const ms = out[tier];
    if (typeof ms !== 'number' || !(ms > 0)) throw new RangeError(`retention.${tier} must be a positive number of ms`);
  }
  if (!(out.raw <= out.minute && out.minute <= out.hour)) {
    throw new RangeError('retention must not shrink from raw to minute to hour');
  }
  return out;
}

export interface Plan {
  readonly tier: TierName;
  readonly bucketMs: number;
  /** Aligned range `[start, end)`, multiples of `bucketMs`. */
  readonly start: number;
  readonly end: number;
}

function roundUp(value: number, step: number): number {
  return Math.ceil(value / step) * step;
}

/**
 * Bucket width and tier for a chart query. Buckets are aligned to multiples
 * of their width (so a sliding chart keeps its buckets), and the width is
 * at least `(to - from) / (maxPoints - 1)`, which keeps the aligned range
 * within `maxPoints` buckets. A width of a minute or more is rounded up to
 * whole minutes (hours past an hour) and answered from that rollup: its rows
 * carry exact min/max/sum/count/last, so the answer equals the one from raw
 * rows, read from 60× (3600×) fewer rows. If the chosen tier no longer holds
 * the start of the range, the next coarser tier that does answers, with
 * wider buckets (fewer points, never a spike averaged away).
 */
export function plan(from: number, to: number, maxPoints: number, now: number, retention: Required<Retention>): Plan {
  const span = Math.max(1, to - from);
  const wanted = Math.max(1, Math.ceil(span / (maxPoints - 1)));
  const order: TierName[] = ['raw', 'minute', 'hour'];
  let index = wanted >= HOUR ? 2 : wanted >= MINUTE ? 1 : 0;
  for (;;) {
    const tier = order[index] as TierName;
    const bucketMs = roundUp(wanted, STEP[tier]);
    const start = Math.floor(from / bucketMs) * bucketMs;
    const end = roundUp(to, bucketMs);
    if (index === 2 || start >= now - retention[tier]) return { tier, bucketMs, start, end };
    index += 1;
  }
}

/** The finest tier that still holds `[from, …)`, and the range rounded outward to its step. */
export function statsPlan(
  from: number,
  to: number,
  now: number,
  retention: Required<Retention>,
): { tier: TierName; start: number; end: number } {
  for (const tier of ['raw', 'minute', 'hour'] as const) {
    const step = STEP[tier];
    const start = Math.floor(from / step) * step;
    if (tier === 'hour' || start >= now - retention[tier]) return { tier, start, end: roundUp(to, step) };
  }
  throw new Error('unreachable');
}
