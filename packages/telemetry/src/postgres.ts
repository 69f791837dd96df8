/**
 * `@boardcast/telemetry/postgres`: the store for many instances, on
 * PostgreSQL through `pg` (a peer dependency: install it beside this
 * package). Same API and semantics as the SQLite store.
 */
import { Emitter } from '@boardcast/core';
import pg from 'pg';
import { idKey } from './event-id.js';
import {
  type BucketRow,
  closedError,
  pruneTimer,
  type ResolvedOptions,
  resolveOptions,
  seriesKey,
  sortBatch,
  toBucket,
} from './store-base.js';
import { HOUR, MINUTE, plan, statsPlan } from './tiers.js';
import type {
  Bucket,
  ChartQuery,
  ChartResult,
  LatestReading,
  PruneResult,
  RangeQuery,
  Reading,
  Retention,
  SeriesInfo,
  Stats,
  StoredReading,
  StoreEvents,
  StoreOptions,
  TelemetryStore,
  TierName,
  WriteOptions,
  WriteResult,
} from './types.js';
import { cleanEventId, cleanLatestFilter, cleanMaxPoints, cleanRange, cleanRecent, cleanSource } from './validate.js';

export interface PostgresStoreOptions extends StoreOptions {
  /** `postgres://user:pass@host:5432/db` (or a socket: `postgres:///db?host=/run/postgresql`). */
  readonly connectionString?: string;
  /** Your own pool instead (left open by `close()`). One of the two is required. */
  readonly pool?: pg.Pool;
  /** Schema holding the tables (created when missing). Default `'public'`. Grammar `^[a-z_][a-z0-9_]{0,62}$`. */
  readonly schema?: string;
  /** Pool size when `connectionString` is given. Default 4. */
  readonly maxConnections?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** pg's code for a deadlock (two writers locking rollup rows in a different order) and for a serialization failure. */
const RETRYABLE = new Set(['40P01', '40001']);
const RETRIES = 5;

function floor(expr: string, step: string): string {
  return `(${expr} - (((${expr} % ${step}) + ${step}) % ${step}))`;
}

/** A row of the chart statement ({@link PostgresStore} `#bucketsText`). */
interface BucketAnswerRow {
  readonly cursor: string | null;
  readonly unit: string | null;
  readonly last_t: number | null;
  readonly b: number | null;
  readonly min: number;
  readonly max: number;
  readonly sum: number;
  readonly count: number;
  readonly last: number;
}

/** The PostgreSQL store (see {@link TelemetryStore}); create it with {@link openPostgresStore}. */
export class PostgresStore extends Emitter<StoreEvents> implements TelemetryStore {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #ownPool: boolean;
  readonly #options: ResolvedOptions;
  readonly #s: string;
  readonly #series = new Map<string, { id: number; unit: string | null }>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /** Use {@link openPostgresStore}: the tables must exist before the first call. */
  private constructor(pool: pg.Pool, ownPool: boolean, schema: string, options: ResolvedOptions) {
    super();
    this.#pool = pool;
    this.#ownPool = ownPool;
    this.#s = `"${schema}"`;
    this.#options = options;
    // An idle client's error (server restart) must not crash the process: report it.
    // A server shutting down after close() still reaches the ended clients' sockets: nothing to report then.
    if (ownPool) pool.on('error', (error) => this.#closed || this.emit('error', error, 'pool'));
  }

  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const resolved = resolveOptions(options);
    const schema = options.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) throw new RangeError(`schema must match ${SCHEMA_NAME.source}`);
    if (!options.pool && !options.connectionString) throw new RangeError('give connectionString or pool');
    const ownPool = !options.pool;
    const pool =
      options.pool ?? new pg.Pool({ connectionString: options.connectionString, max: options.maxConnections ?? 4 });
    const store = new PostgresStore(pool, ownPool, schema, resolved);
    try {
      await store.#migrate(schema);
    } catch (error) {
      if (ownPool) await pool.end().catch(() => undefined);
      throw error;
    }
    store.#timer = pruneTimer(
      resolved.pruneIntervalMs,
      () => store.prune(),
      (error) => store.emit('error', error, 'prune'),
    );
    return store;
  }

  async #migrate(schema: string): Promise<void> {
    const s = this.#s;
    const rollupTable = (name: string) => `CREATE TABLE IF NOT EXISTS ${s}.${name} (
        series_id integer NOT NULL, t bigint NOT NULL,
        min double precision NOT NULL, max double precision NOT NULL,
        sum double precision NOT NULL, count bigint NOT NULL,
        last_t bigint NOT NULL, last double precision NOT NULL,
        PRIMARY KEY (series_id, t))`;
    await this.#transaction(async (client) => {
      // Two instances starting at once would race on CREATE TABLE IF NOT EXISTS.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('boardcast-telemetry-schema'))");
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${s}.series (
        id serial PRIMARY KEY, channel text NOT NULL, sensor text NOT NULL, unit text,
        last_t bigint, last_value double precision, UNIQUE (channel, sensor))`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${s}.raw (
        series_id integer NOT NULL, t bigint NOT NULL, value double precision NOT NULL,
        PRIMARY KEY (series_id, t, value))`);
      await client.query(rollupTable('minute'));
      await client.query(rollupTable('hour'));
      await client.query(`CREATE TABLE IF NOT EXISTS ${s}.cursors (
        source text PRIMARY KEY, event_id text NOT NULL, epoch text NOT NULL, major bigint NOT NULL, minor bigint NOT NULL)`);
    });
    void schema;
  }

  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    for (let attemptNo = 0; ; attemptNo += 1) {
      const client = await this.#pool.connect();
      try {
        await client.query(begin);
        const result = await work(client);
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release();
        const code = (error as { code?: unknown }).code;
        if (attemptNo < RETRIES && typeof code === 'string' && RETRYABLE.has(code)) continue;
        throw error;
      }
    }
  }

  get retention(): Required<Retention> {
    return this.#options.retention;
  }

  /** The pool, for what this API does not cover. */
  get pool(): pg.Pool {
    return this.#pool;
  }

  #open(): void {
    if (this.#closed) throw closedError();
  }

  async #seriesId(channel: string, sensor: string, unit: string | undefined): Promise<number> {
    const key = seriesKey(channel, sensor);
    let row = this.#series.get(key);
    if (!row) {
      const s = this.#s;
      await this.#pool.query(
        `INSERT INTO ${s}.series (channel, sensor, unit) VALUES ($1, $2, $3) ON CONFLICT (channel, sensor) DO NOTHING`,
        [channel, sensor, unit ?? null],
      );
      const found = await this.#pool.query<{ id: number; unit: string | null }>(
        `SELECT id, unit FROM ${s}.series WHERE channel = $1 AND sensor = $2`,
        [channel, sensor],
      );
      row = found.rows[0] as { id: number; unit: string | null };
      this.#series.set(key, row);
    }
    if (unit !== undefined && row.unit !== unit) {
      await this.#pool.query(`UPDATE ${this.#s}.series SET unit = $1 WHERE id = $2`, [unit, row.id]);
      row.unit = unit;
    }
    return row.id;
  }

  async #lookup(client: pg.PoolClient, channel: string, sensor: string) {
    const found = await client.query<{ id: number; unit: string | null; last_t: number | null }>(
      `SELECT id, unit, last_t::float8 AS last_t FROM ${this.#s}.series WHERE channel = $1 AND sensor = $2`,
      [channel, sensor],
    );
    return found.rows[0];
  }

  async write(readings: readonly Reading[], options: WriteOptions = {}): Promise<WriteResult> {
    this.#open();
    const batch = sortBatch(readings, this.#options);
    const source = cleanSource(options.source);
    const eventId = cleanEventId(options.eventId);
    const rows: { id: number; t: number; value: number }[] = [];
    for (const r of batch.accepted) {
      // The cache answers all but a sensor's first reading (and a unit change) without a round trip.
      const cached = this.#series.get(seriesKey(r.channel, r.sensor));
      const id =
        cached && (r.unit === undefined || r.unit === cached.unit)
          ? cached.id
          : await this.#seriesId(r.channel, r.sensor, r.unit);
      rows.push({ id, t: r.t, value: r.value });
    }
    // One lock order for every writer: raw keys and rollup rows are taken sorted.
    rows.sort((a, b) => a.id - b.id || a.t - b.t || a.value - b.value);
    const s = this.#s;
    const rollup = (table: string, step: number) => `${table}_up AS (
      INSERT INTO ${s}.${table} (series_id, t, min, max, sum, count, last_t, last)
      SELECT series_id, ${floor('t', String(step))} AS b, min(value), max(value), sum(value), count(*),
             max(t), (max(ARRAY[t::float8, value]))[2]
      FROM ins GROUP BY series_id, b ORDER BY series_id, b
      ON CONFLICT (series_id, t) DO UPDATE SET
        min = least(${table}.min, excluded.min), max = greatest(${table}.max, excluded.max),
        sum = ${table}.sum + excluded.sum, count = ${table}.count + excluded.count,
        last = CASE WHEN excluded.last_t > ${table}.last_t
                      OR (excluded.last_t = ${table}.last_t AND excluded.last > ${table}.last)
                    THEN excluded.last ELSE ${table}.last END,
        last_t = greatest(${table}.last_t, excluded.last_t))`;
    const values: unknown[] = [rows.map((r) => r.id), rows.map((r) => r.t), rows.map((r) => r.value)];
    let cursorCte = '';
    if (eventId !== undefined) {
      const key = idKey(eventId);
      values.push(source, eventId, key.epoch, key.major, key.minor);
      cursorCte = `, cur AS (
        INSERT INTO ${s}.cursors (source, event_id, epoch, major, minor) VALUES ($4, $5, $6, $7, $8)
        ON CONFLICT (source) DO UPDATE SET event_id = excluded.event_id, epoch = excluded.epoch,
          major = excluded.major, minor = excluded.minor
        WHERE cursors.epoch <> excluded.epoch OR (cursors.major, cursors.minor) < (excluded.major, excluded.minor))`;
    }
    // One statement, so one implicit transaction: readings, rollups, latest and cursor land together.
    const text = `WITH input AS (
        SELECT * FROM unnest($1::integer[], $2::bigint[], $3::float8[]) AS x(series_id, t, value)),
      ins AS (
        INSERT INTO ${s}.raw (series_id, t, value) SELECT series_id, t, value FROM input
        ORDER BY series_id, t, value ON CONFLICT DO NOTHING RETURNING series_id, t, value),
      ${rollup('minute', MINUTE)},
      ${rollup('hour', HOUR)},
      newest AS (
        UPDATE ${s}.series AS se SET last_t = x.t, last_value = x.value
        FROM (SELECT DISTINCT ON (series_id) series_id, t, value FROM ins ORDER BY series_id, t DESC, value DESC) AS x
        WHERE se.id = x.series_id
          AND (se.last_t IS NULL OR x.t > se.last_t OR (x.t = se.last_t AND x.value > se.last_value)))
      ${cursorCte}
      SELECT count(*)::integer AS n FROM ins`;
    let written = 0;
    for (let attemptNo = 0; ; attemptNo += 1) {
      try {
        const result = await this.#pool.query<{ n: number }>(text, values);
        written = result.rows[0]?.n ?? 0;
        break;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (attemptNo < RETRIES && typeof code === 'string' && RETRYABLE.has(code)) continue;
        throw error;
      }
    }
    return { written, duplicates: rows.length - written, tooOld: batch.tooOld, tooNew: batch.tooNew };
  }

  async query(query: ChartQuery): Promise<ChartResult> {
    this.#open();
    const range = cleanRange(query);
    const maxPoints = cleanMaxPoints(query);
    const now = this.#options.now();
    // One statement reads the cursor, the series and the buckets: one snapshot, so the
    // hand-over point is exact, in one round trip (no BEGIN/COMMIT). On a loaded machine each
    // round trip can wait a scheduler slice; four of them were most of the query's time.
    // An open range ends after the series' newest reading, which the plan needs before the
    // statement: it is taken to be no later than now, and when the answer shows a newer one
    // (a device clock ahead) the statement runs again with it, until the two agree.
    let newest: number | null = null;
    for (;;) {
      const to = range.to ?? Math.max(now, newest ?? now) + 1;
      const p = plan(range.from, to, maxPoints, now, this.#options.retention);
      const result = await this.#pool.query<BucketAnswerRow>(this.#bucketsText(p.tier), [
        range.channel,
        range.sensor,
        p.bucketMs,
        p.start,
        p.end,
      ]);
      const head = result.rows[0];
      const lastT = head?.last_t ?? null;
      if (range.to === undefined && Math.max(now, lastT ?? now) !== Math.max(now, newest ?? now)) {
        newest = lastT;
        continue;
      }
      const buckets: Bucket[] = [];
      for (const row of result.rows) if (row.b !== null) buckets.push(toBucket(row as BucketRow));
      return {
        channel: range.channel,
        sensor: range.sensor,
        unit: head?.unit ?? null,
        cursor: head?.cursor ?? null,
        tier: p.tier,
        bucketMs: p.bucketMs,
        buckets,
      };
    }
  }

  /**
   * The chart statement of a tier: `$1` channel, `$2` sensor, `$3` bucket width, `[$4, $5)`
   * the aligned range. One row per bucket, oldest first, each also carrying the cursor and the
   * series' unit and newest time; one row with `b` null when there is no bucket (or no series).
   * `last` is the value of the greatest (time, value) pair: the newest reading, ties by the
   * greater value, as every tier answers.
   */
  #bucketsText(tier: TierName): string {
    const s = this.#s;
    const g =
      tier === 'raw'
        ? `SELECT ${floor('t', '$3::bigint')} AS b, min(value) AS min, max(value) AS max,
             sum(value) AS sum, count(*) AS count, (max(ARRAY[t::float8, value]))[2] AS last
           FROM ${s}.raw WHERE series_id = (SELECT id FROM se) AND t >= $4 AND t < $5 GROUP BY 1`
        : `SELECT ${floor('t', '$3::bigint')} AS b, min(min) AS min, max(max) AS max,
             sum(sum) AS sum, sum(count) AS count, (max(ARRAY[last_t::float8, last]))[2] AS last
           FROM ${s}.${tier} WHERE series_id = (SELECT id FROM se) AND t >= $4 AND t < $5 GROUP BY 1`;
    return `WITH se AS (SELECT id, unit, last_t FROM ${s}.series WHERE channel = $1 AND sensor = $2),
      g AS (${g})
      SELECT (SELECT event_id FROM ${s}.cursors WHERE source = 'default') AS cursor,
             se.unit, se.last_t::float8 AS last_t,
             g.b::float8 AS b, g.min, g.max, g.sum, g.count::float8 AS count, g.last
      FROM (SELECT 1) AS one LEFT JOIN se ON true LEFT JOIN g ON true ORDER BY g.b`;
  }

  async #cursorIn(client: pg.PoolClient | pg.Pool, source: string): Promise<string | null> {
    const found = await client.query<{ event_id: string }>(
      `SELECT event_id FROM ${this.#s}.cursors WHERE source = $1`,
      [source],
    );
    return found.rows[0]?.event_id ?? null;
  }

  async stats(query: RangeQuery): Promise<Stats | undefined> {
    this.#open();
    const range = cleanRange(query);
    return this.#transaction(async (client) => {
      const series = await this.#lookup(client, range.channel, range.sensor);
      if (!series) return undefined;
      const now = this.#options.now();
      const to = range.to ?? Math.max(now, series.last_t ?? now) + 1;
      const p = statsPlan(range.from, to, now, this.#options.retention);
      const s = this.#s;
      const text =
        p.tier === 'raw'
          ? `SELECT min(value) AS min, max(value) AS max, sum(value) AS sum, count(*)::float8 AS count,
               max(ARRAY[t::float8, value]) AS last FROM ${s}.raw WHERE series_id = $1 AND t >= $2 AND t < $3`
          : `SELECT min(min) AS min, max(max) AS max, sum(sum) AS sum, coalesce(sum(count), 0)::float8 AS count,
               max(ARRAY[last_t::float8, last]) AS last FROM ${s}.${p.tier} WHERE series_id = $1 AND t >= $2 AND t < $3`;
      const result = await client.query<{
        min: number;
        max: number;
        sum: number;
        count: number;
        last: number[] | null;
      }>(text, [series.id, p.start, p.end]);
      const row = result.rows[0];
      if (!row?.count || !row.last) return undefined;
      return {
        min: row.min,
        max: row.max,
        avg: row.sum / row.count,
        count: row.count,
        last: row.last[1] as number,
        lastT: row.last[0] as number,
        from: p.start,
        to: p.end,
        tier: p.tier,
      };
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  }

  async latest(filter: { readonly channel?: string; readonly sensor?: string } = {}): Promise<LatestReading[]> {
    this.#open();
    const { channel, sensor } = cleanLatestFilter(filter);
    const result = await this.#pool.query<LatestReading>(
      `SELECT channel, sensor, unit, last_t::float8 AS t, last_value AS value FROM ${this.#s}.series
       WHERE last_t IS NOT NULL AND ($1::text IS NULL OR channel = $1) AND ($2::text IS NULL OR sensor = $2)
       ORDER BY channel COLLATE "C", sensor COLLATE "C"`,
      [channel ?? null, sensor ?? null],
    );
    return result.rows.map(({ channel, sensor, unit, t, value }) => ({ channel, sensor, unit, t, value }));
  }

  async recent(query: {
    readonly channel?: string;
    readonly sensor: string;
    readonly limit?: number;
  }): Promise<StoredReading[]> {
    this.#open();
    const { channel, sensor, limit } = cleanRecent(query);
    const s = this.#s;
    const result = await this.#pool.query<{ t: number; value: number }>(
      `SELECT r.t::float8 AS t, r.value FROM ${s}.raw AS r JOIN ${s}.series AS se ON se.id = r.series_id
       WHERE se.channel = $1 AND se.sensor = $2 ORDER BY r.t DESC, r.value DESC LIMIT $3`,
      [channel, sensor, limit],
    );
    return result.rows.map(({ t, value }) => ({ channel, sensor, t, value }));
  }

  async series(): Promise<SeriesInfo[]> {
    this.#open();
    const result = await this.#pool.query<SeriesInfo>(
      `SELECT channel, sensor, unit FROM ${this.#s}.series ORDER BY channel COLLATE "C", sensor COLLATE "C"`,
    );
    return result.rows.map(({ channel, sensor, unit }) => ({ channel, sensor, unit }));
  }

  async cursor(source?: string): Promise<string | null> {
    this.#open();
    return this.#cursorIn(this.#pool, cleanSource(source));
  }

  async prune(): Promise<PruneResult> {
    this.#open();
    const now = this.#options.now();
    const { retention } = this.#options;
    const s = this.#s;
    const ids = (await this.#pool.query<{ id: number }>(`SELECT id FROM ${s}.series`)).rows.map((r) => r.id);
    const out = { raw: 0, minute: 0, hour: 0 };
    for (const id of ids) {
      out.raw +=
        (await this.#pool.query(`DELETE FROM ${s}.raw WHERE series_id = $1 AND t < $2`, [id, now - retention.raw]))
          .rowCount ?? 0;
      out.minute +=
        (
          await this.#pool.query(`DELETE FROM ${s}.minute WHERE series_id = $1 AND t < $2`, [
            id,
            now - retention.minute,
          ])
        ).rowCount ?? 0;
      if (Number.isFinite(retention.hour)) {
        out.hour +=
          (await this.#pool.query(`DELETE FROM ${s}.hour WHERE series_id = $1 AND t < $2`, [id, now - retention.hour]))
            .rowCount ?? 0;
      }
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#ownPool) await this.#pool.end();
  }
}

/** Connect, create the tables when missing, and return the store. */
export function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  return PostgresStore.open(options);
}
