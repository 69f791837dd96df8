/**
 * The shapes every telemetry store shares: SQLite (`@boardcast/telemetry/sqlite`)
 * and PostgreSQL (`@boardcast/telemetry/postgres`) implement the same
 * {@link TelemetryStore}, and one test suite runs against both.
 */

/** One sensor reading as it is written. */
export interface Reading {
  /** Channel id (core's grammar `^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`); default `'default'`. */
  readonly channel?: string | undefined;
  /** Sensor name within the channel (same grammar as a channel id). */
  readonly sensor: string;
  /** When it was measured, ms since the Unix epoch (device clock; fractions are truncated). */
  readonly t: number;
  /** The measured value. `NaN`, `±Infinity` and non-numbers are refused (`invalid_payload`). */
  readonly value: number;
  /** Unit from the sensor's declaration (`°C`, `%` …); kept per sensor, the newest one wins. */
  readonly unit?: string | undefined;
}

/** One stored reading as read back (`recent`). */
export interface StoredReading {
  readonly channel: string;
  readonly sensor: string;
  readonly t: number;
  readonly value: number;
}

/** The newest reading of one sensor (`latest`). */
export interface LatestReading extends StoredReading {
  readonly unit: string | null;
}

/** Tier names, finest first. */
export type TierName = 'raw' | 'minute' | 'hour';

/**
 * How long each tier keeps its rows, in ms (`Infinity`: forever). Defaults:
 * raw 48 h, minute 30 days, hour forever (Home Assistant keeps 5-minute
 * statistics 10 days and hourly ones forever; a maker's "last week" chart
 * needs minutes for a week).
 */
export interface Retention {
  readonly raw?: number;
  readonly minute?: number;
  readonly hour?: number;
}

/** One chart point: the readings of `[t, t + bucketMs)`. */
export interface Bucket {
  /** Bucket start, ms since the epoch (a multiple of `bucketMs`). */
  readonly t: number;
  readonly min: number;
  readonly max: number;
  /** Mean of every reading in the bucket (sum / count, exact across tiers). */
  readonly avg: number;
  readonly count: number;
  /** The value of the reading with the greatest timestamp (ties: the greatest value). */
  readonly last: number;
}

/** Statistics over a range (`stats`), or `undefined` when it holds no reading. */
export interface Stats {
  readonly min: number;
  readonly max: number;
  readonly avg: number;
  readonly count: number;
  readonly last: number;
  /** Timestamp of `last`. */
  readonly lastT: number;
  /** The span actually summarized: `[from, to)` rounded outward to the tier's step. */
  readonly from: number;
  readonly to: number;
  readonly tier: TierName;
}

export interface RangeQuery {
  /** Default `'default'`. */
  readonly channel?: string | undefined;
  readonly sensor: string;
  /** Start, ms since the epoch (inclusive). */
  readonly from: number;
  /**
   * End, ms since the epoch (exclusive). Omitted: open-ended, every stored
   * reading from `from` on, whatever its timestamp — the form to use for the
   * history → live hand-over (see `cursor`).
   */
  readonly to?: number | undefined;
}

export interface ChartQuery extends RangeQuery {
  /** Most points the chart can draw: an integer 2 … 100,000. */
  readonly maxPoints: number;
}

export interface ChartResult {
  readonly channel: string;
  readonly sensor: string;
  /** The sensor's unit, when one was ever written. */
  readonly unit: string | null;
  /** Which tier answered. */
  readonly tier: TierName;
  /** Width of every bucket, ms. */
  readonly bucketMs: number;
  /** At most `maxPoints` buckets, oldest first; empty buckets are left out. */
  readonly buckets: readonly Bucket[];
  /**
   * The bus event id of the newest recorded reading this answer includes
   * (of the `source`, see `TelemetryStore.write`), read in the same
   * snapshot as the buckets: every reading recorded with an id up to it is
   * in the answer (or was refused by the clock rule), none after it is. A
   * page continues live with the hub `since` this id. `null`: nothing was
   * recorded from a bus yet.
   */
  readonly cursor: string | null;
}

export interface WriteOptions {
  /**
   * Bus event id of the newest reading in this batch. Stored in the same
   * transaction as the readings; the store's cursor for `source` moves to
   * it (never backwards: ids are compared as the bus orders them).
   */
  readonly eventId?: string | undefined;
  /** Which bus the ids belong to (one cursor per source). Default `'default'`. */
  readonly source?: string | undefined;
}

/** What one `write` did. A batch is written whole or not at all. */
export interface WriteResult {
  /** Readings stored. */
  readonly written: number;
  /** Readings equal to a stored one in channel, sensor, timestamp and value: dropped (see README, duplicates). */
  readonly duplicates: number;
  /** Readings older than the raw tier's retention: dropped (device clock behind). */
  readonly tooOld: number;
  /** Readings further ahead of the store's clock than `maxClockAheadMs`: dropped (device clock ahead). */
  readonly tooNew: number;
}

/** What one retention pass deleted, rows per tier. */
export interface PruneResult {
  readonly raw: number;
  readonly minute: number;
  readonly hour: number;
}

export interface SeriesInfo {
  readonly channel: string;
  readonly sensor: string;
  readonly unit: string | null;
}

/** Options every store takes. */
export interface StoreOptions {
  /** Per-tier retention in ms; see {@link Retention}. */
  readonly retention?: Retention;
  /** How far ahead of the store's clock a reading may be, ms. Default 300,000 (5 min). */
  readonly maxClockAheadMs?: number;
  /** Run retention every this many ms (timer not keeping the process alive); 0 turns it off. Default 60,000. */
  readonly pruneIntervalMs?: number;
  /** The store's clock, ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * A store of readings keyed by (channel, sensor), with raw, per-minute and
 * per-hour tiers. Every method is async (the PostgreSQL one does I/O); errors
 * are `BoardcastError`s: `invalid_payload` for a bad argument, `closed` after
 * `close()`.
 */
export interface TelemetryStore {
  /**
   * Failures nobody awaited: the retention timer's prune (`where`:
   * `'prune'`). Without a listener they are logged (core's `Emitter`).
   */
  on(event: 'error', listener: (error: unknown, where: string) => void): () => void;
  /** `'sqlite'` or `'postgres'`. */
  readonly kind: 'sqlite' | 'postgres';
  /** Retention in force, ms per tier (`Infinity`: forever). */
  readonly retention: Required<Retention>;
  /**
   * Store one batch in one transaction: the readings, their minute and hour
   * rollups (updated incrementally, never rescanned) and the cursor. A
   * malformed reading refuses the whole batch (`invalid_payload`, nothing
   * written); readings outside the clock window are dropped and counted.
   */
  write(readings: readonly Reading[], options?: WriteOptions): Promise<WriteResult>;
  /** At most `maxPoints` buckets over the range, from the finest tier that covers it; see README. */
  query(query: ChartQuery): Promise<ChartResult>;
  /** Min, max, avg, count and last over a range. */
  stats(query: RangeQuery): Promise<Stats | undefined>;
  /** The newest reading per sensor, optionally of one channel and/or one sensor. */
  latest(filter?: { readonly channel?: string; readonly sensor?: string }): Promise<LatestReading[]>;
  /** The newest `limit` (1 … 10,000, default 10) raw readings of a sensor, newest first. */
  recent(query: {
    readonly channel?: string;
    readonly sensor: string;
    readonly limit?: number;
  }): Promise<StoredReading[]>;
  /** Every (channel, sensor) ever written. */
  series(): Promise<SeriesInfo[]>;
  /** The cursor of `source` (default `'default'`), `null` before the first id. */
  cursor(source?: string): Promise<string | null>;
  /** Delete what retention says is due now; runs on its own every `pruneIntervalMs`. */
  prune(): Promise<PruneResult>;
  /** Stop the timer, finish and close. Idempotent. */
  close(): Promise<void>;
}

/** Events of a store (see `TelemetryStore.on`). */
export type StoreEvents = {
  error: (error: unknown, where: string) => void;
};
