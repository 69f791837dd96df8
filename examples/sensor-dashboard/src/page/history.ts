import type { SensorName } from '../sensors.js';

/** One point of a chart: a reading, or a bucket of readings (its mean, with min and max). */
export interface ChartPoint {
  /** ms since the epoch: the reading's time, or the bucket's middle. */
  readonly at: number;
  /** The reading, or the bucket's mean. */
  readonly value: number;
  /** The bucket's min and max; `null` for a single reading. */
  readonly min: number | null;
  readonly max: number | null;
  readonly count: number;
}

export interface TableRow {
  readonly at: number;
  readonly value: number;
}

/** The range picker's choices. */
export const RANGES = [
  { id: '10m', label: '10 min', ms: 10 * 60_000 },
  { id: '1h', label: 'Hour', ms: 3_600_000 },
  { id: '1d', label: 'Day', ms: 86_400_000 },
  { id: '1w', label: 'Week', ms: 7 * 86_400_000 },
] as const;
export type RangeId = (typeof RANGES)[number]['id'];
export const TABLE_ROWS = 10;

/**
 * Whether bus event id `id` comes after `cursor`, as @boardcast/telemetry
 * orders its cursor (README, "History, then live"): ids are
 * `<prefix>-<sequence>`; numeric prefixes (Redis) compare as numbers, an
 * epoch prefix (the in-memory bus) compares sequences within one epoch, and
 * another epoch is a restarted server whose ids come after the old ones.
 */
export function isAfter(id: string, cursor: string | null): boolean {
  if (cursor === null) return true;
  const split = (value: string) => {
    const dash = value.lastIndexOf('-');
    return [value.slice(0, dash), Number(value.slice(dash + 1))] as const;
  };
  const [prefix, seq] = split(id);
  const [cursorPrefix, cursorSeq] = split(cursor);
  if (/^\d+$/.test(prefix) && /^\d+$/.test(cursorPrefix)) {
    return Number(prefix) > Number(cursorPrefix) || (prefix === cursorPrefix && seq > cursorSeq);
  }
  return prefix !== cursorPrefix || seq > cursorSeq;
}

interface Bucket {
  t: number;
  min: number;
  max: number;
  avg: number;
  count: number;
}
interface ChartAnswer {
  bucketMs: number;
  buckets: Bucket[];
  cursor: string | null;
}
interface Stored {
  t: number;
  value: number;
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return (await response.json()) as T;
}

/**
 * One sensor's chart data: the store's history of the range, then the live
 * readings after its cursor. Live readings that arrive while the history is
 * loading wait in `pending` and are sorted out by their ids when it lands:
 * no gap, and no reading drawn twice.
 */
export class SensorHistory {
  readonly sensor: SensorName;
  points: ChartPoint[] = [];
  rows: TableRow[] = [];
  cursor: string | null = null;
  loaded = false;
  #pending: { id: string; at: number; value: number }[] = [];
  #rangeMs = 3_600_000;
  /** Half the width of the loaded buckets (0 when each reading is drawn): a bucket point sits at its middle. */
  #halfBucketMs = 0;
  #generation = 0;
  /**
   * Readings fetched with `recent` (after the cursor was read, so they may
   * also come live), by `at:value`, with how many of them: a live reading
   * equal to one is already shown and uses it up. Only those: two equal
   * readings that both come live are both drawn, as the hub's state has them.
   */
  #shownPoints = new Map<string, number>();
  #shownRows = new Map<string, number>();

  constructor(sensor: SensorName) {
    this.sensor = sensor;
  }

  /**
   * Load the range of `device` from the store (`width`: the chart's width in pixels,
   * the most points worth drawing). With no more readings than that, each
   * reading is drawn; else the store's buckets (mean, min and max).
   */
  async load(rangeMs: number, width: number, device: string): Promise<boolean> {
    const generation = ++this.#generation;
    this.#rangeMs = rangeMs;
    const points = Math.max(10, Math.min(2000, Math.floor(width)));
    const base = `/api/telemetry`;
    // The device is the store's channel (the hub's channel of the device).
    const q = `channel=${encodeURIComponent(device)}&sensor=${this.sensor}`;
    const answer = await getJson<ChartAnswer>(`${base}/query?${q}&last=${rangeMs}&points=${points}`);
    const total = answer.buckets.reduce((n, b) => n + b.count, 0);
    let loaded: ChartPoint[];
    let rows: TableRow[];
    let raw = false;
    if (total <= points) {
      // Newest first from the store; what came after the cursor is also in `pending` (dropped below as equal).
      const recent = await getJson<Stored[]>(`${base}/recent?${q}&limit=${Math.min(10_000, total + 100)}`);
      const from = Date.now() - rangeMs;
      loaded = recent
        .filter((r) => r.t >= from)
        .reverse()
        .map((r) => ({ at: r.t, value: r.value, min: null, max: null, count: 1 }));
      rows = recent.slice(0, TABLE_ROWS).map((r) => ({ at: r.t, value: r.value }));
      raw = true;
    } else {
      loaded = answer.buckets.map((b) => ({
        at: b.t + answer.bucketMs / 2,
        value: b.avg,
        min: b.min,
        max: b.max,
        count: b.count,
      }));
      const recent = await getJson<Stored[]>(`${base}/recent?${q}&limit=${TABLE_ROWS}`);
      rows = recent.map((r) => ({ at: r.t, value: r.value }));
    }
    if (generation !== this.#generation) return false; // a newer load started meanwhile
    this.points = loaded;
    this.rows = rows;
    this.cursor = answer.cursor;
    this.#halfBucketMs = raw ? 0 : answer.bucketMs / 2;
    this.#shownPoints = raw ? tally(loaded) : new Map();
    this.#shownRows = tally(rows);
    this.loaded = true;
    const pending = this.#pending;
    this.#pending = [];
    for (const reading of pending) this.add(reading.id, reading.at, reading.value);
    return true;
  }

  /** A new page connection (first connect, or after a server restart): readings wait for the next load. */
  reset(): void {
    this.#generation += 1;
    this.loaded = false;
    this.#pending = [];
  }

  /** Another device is shown: nothing of the previous one stays on the chart or in the table. */
  clear(): void {
    this.reset();
    this.points = [];
    this.rows = [];
    this.cursor = null;
    this.#shownPoints = new Map();
    this.#shownRows = new Map();
  }

  /** A live reading; returns whether the chart changed. */
  add(id: string, at: number, value: number): boolean {
    if (!this.loaded) {
      this.#pending.push({ id, at, value });
      return false;
    }
    if (!isAfter(id, this.cursor)) return false; // already in the history
    const key = `${at}:${value}`;
    if (!useUp(this.#shownRows, key)) {
      this.rows = [{ at, value }, ...this.rows].sort((a, b) => b.at - a.at).slice(0, TABLE_ROWS);
    }
    if (useUp(this.#shownPoints, key)) return true; // fetched with `recent` already
    const point = { at, value, min: null, max: null, count: 1 };
    let index = this.points.length;
    while (index > 0 && (this.points[index - 1] as ChartPoint).at > at) index -= 1;
    this.points = [...this.points.slice(0, index), point, ...this.points.slice(index)];
    // The window slides: what ended before the range's start leaves (checked once a minute's worth is
    // due, not per reading). A bucket ends half its width after its point; a reading at its point.
    const from = Date.now() - this.#rangeMs;
    const end = (p: ChartPoint) => p.at + (p.min === null ? 0 : this.#halfBucketMs);
    const first = this.points[0];
    if (first && end(first) < from - 60_000) this.points = this.points.filter((p) => end(p) >= from);
    return true;
  }

  /** Min, max, mean and count over what the chart shows. */
  stats(): { min: number; max: number; avg: number; count: number } | undefined {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let sum = 0;
    let count = 0;
    for (const p of this.points) {
      min = Math.min(min, p.min ?? p.value);
      max = Math.max(max, p.max ?? p.value);
      sum += p.value * p.count;
      count += p.count;
    }
    return count === 0 ? undefined : { min, max, avg: sum / count, count };
  }
}

function tally(readings: readonly { at: number; value: number }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { at, value } of readings) counts.set(`${at}:${value}`, (counts.get(`${at}:${value}`) ?? 0) + 1);
  return counts;
}

/** Whether `key` is still in `counts`, taking one away. */
function useUp(counts: Map<string, number>, key: string): boolean {
  const n = counts.get(key) ?? 0;
  if (n === 0) return false;
  if (n === 1) counts.delete(key);
  else counts.set(key, n - 1);
  return true;
}
