/**
 * Telemetry store benchmark (see README "Measured"): sustained ingest,
 * chart query latency vs. reading raw rows and downsampling in JS, disk
 * bytes per reading, and RSS at 10 M vs 1 M readings.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startPostgres } from '../../../test-support/postgres.js';
import { openPostgresStore, type PostgresStore } from '../src/postgres.js';
import { openSqliteStore, type SqliteStore } from '../src/sqlite.js';
import type { Reading, TelemetryStore } from '../src/types.js';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const which = args.includes('--store') ? args[args.indexOf('--store') + 1] : 'both';
const rss = args.includes('--rss');
/**
 * `--query-only`: skip the ingest, disk and two-instance figures and the
 * raw-rows-in-JS comparison; write only the 7-day 1 Hz series the query
 * figure reads (the same 604,800 readings a full run writes, in the same
 * batches) and time the chart queries. For comparing query variants without
 * re-ingesting millions of readings each time. `--runs N`: queries timed
 * (default 300).
 */
const queryOnly = args.includes('--query-only');
const runsArg = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : undefined;
const tmp = process.env.BENCH_TMP as string;

const DAY = 86_400_000;
const BATCH = 5_000;
const now = Date.now();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** `count` readings of `sensors` sensors at 1 Hz each, ending now; deterministic values. */
function* readings(count: number, sensors: number, channel = 'default'): Generator<Reading[]> {
  const seconds = Math.ceil(count / sensors);
  const start = now - seconds * 1000;
  let batch: Reading[] = [];
  let n = 0;
  for (let s = 0; s < seconds && n < count; s += 1) {
    for (let k = 0; k < sensors && n < count; k += 1) {
      n += 1;
      batch.push({ channel, sensor: `s${k}`, t: start + s * 1000, value: ((n * 7919) % 10_000) / 100 });
      if (batch.length === BATCH) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length) yield batch;
}

async function ingest(store: TelemetryStore, count: number, sensors: number, channel?: string): Promise<number> {
  const t0 = performance.now();
  for (const batch of readings(count, sensors, channel)) await store.write(batch);
  return count / ((performance.now() - t0) / 1000);
}

/** Chart query (≤ 1,000 points over 7 days) vs. reading the raw rows and downsampling in JS. */
async function queryLatency(
  store: TelemetryStore,
  rawRows: (from: number, to: number) => Promise<{ t: number; value: number }[]>,
  runs: number,
) {
  const from = now - 7 * DAY;
  const to = now;
  const store_ms: number[] = [];
  let points = 0;
  let tier = '';
  for (let i = 0; i < runs; i += 1) {
    const t0 = performance.now();
    const answer = await store.query({ channel: 'week', sensor: 's0', from, to, maxPoints: 1000 });
    store_ms.push(performance.now() - t0);
    points = answer.buckets.length;
    tier = answer.tier;
  }
  const js_ms: number[] = [];
  let rows = 0;
  for (let i = 0; i < (queryOnly ? 0 : Math.max(5, Math.floor(runs / 10))); i += 1) {
    const t0 = performance.now();
    const raw = await rawRows(from, to);
    rows = raw.length;
    const width = Math.ceil((to - from) / 999);
    const buckets = new Map<number, { min: number; max: number; sum: number; count: number; last: number }>();
    for (const { t, value } of raw) {
      const b = Math.floor(t / width) * width;
      const row = buckets.get(b);
      if (!row) buckets.set(b, { min: value, max: value, sum: value, count: 1, last: value });
      else {
        if (value < row.min) row.min = value;
        if (value > row.max) row.max = value;
        row.sum += value;
        row.count += 1;
        row.last = value;
      }
    }
    js_ms.push(performance.now() - t0);
  }
  store_ms.sort((a, b) => a - b);
  js_ms.sort((a, b) => a - b);
  return { store_ms, js_ms, points, tier, rows };
}

function report(name: string, q: Awaited<ReturnType<typeof queryLatency>>) {
  const s50 = percentile(q.store_ms, 50);
  const s99 = percentile(q.store_ms, 99);
  if (queryOnly) {
    console.log(
      `${name} 7-day 1 Hz range → ${q.points} points (${q.tier} tier): p50 ${fmt(s50, 2)} ms, p99 ${fmt(s99, 2)} ms (${q.store_ms.length} queries)`,
    );
    return;
  }
  const j50 = percentile(q.js_ms, 50);
  const j99 = percentile(q.js_ms, 99);
  console.log(
    `${name} 7-day 1 Hz range → ${q.points} points (${q.tier} tier): p50 ${fmt(s50, 2)} ms, p99 ${fmt(s99, 2)} ms` +
      ` | raw rows (${fmt(q.rows)}) + JS downsampling: p50 ${fmt(j50, 1)} ms, p99 ${fmt(j99, 1)} ms` +
      ` | ratio p50 ${fmt(j50 / s50, 0)}×`,
  );
}

async function sqlite(): Promise<void> {
  const count = smoke ? 50_000 : 2_000_000;
  const path = join(tmp, 'ingest.db');
  // Raw kept 8 days so the week's raw rows exist for the JS comparison.
  const store: SqliteStore = openSqliteStore({ path, retention: { raw: 8 * DAY }, pruneIntervalMs: 0 });
  if (!queryOnly) {
    const rate = await ingest(store, count, 20);
    store.database.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = statSync(path).size;
    console.log(`SQLite ingest: ${fmt(count)} readings (20 sensors, batches of ${BATCH}) at ${fmt(rate)} readings/s`);
    console.log(
      `SQLite disk: ${fmt(bytes / count, 1)} bytes/reading (raw + minute + hour tiers) = ${fmt(((bytes / count) * 1e6) / 2 ** 20, 1)} MiB per million`,
    );
  }
  const week = smoke ? 20_000 : 7 * 86_400;
  await ingest(store, week, 1, 'week');
  const db = store.database;
  const id = (db.prepare("SELECT id FROM series WHERE channel = 'week' AND sensor = 's0'").get() as { id: number }).id;
  const stmt = db.prepare('SELECT t, value FROM raw WHERE series_id = ? AND t >= ? AND t < ? ORDER BY t');
  const q = await queryLatency(
    store,
    async (from, to) => stmt.all(id, from, to) as { t: number; value: number }[],
    runsArg ?? (smoke ? 20 : 300),
  );
  report('SQLite', q);
  await store.close();
}

async function postgres(): Promise<void> {
  const server = await startPostgres({ fsync: true });
  try {
    const count = smoke ? 50_000 : 1_000_000;
    const store: PostgresStore = await openPostgresStore({
      connectionString: server.url,
      retention: { raw: 8 * DAY },
      pruneIntervalMs: 0,
    });
    if (!queryOnly) await ingestFigures(server.url, store, count);
    await ingest(store, smoke ? 20_000 : 7 * 86_400, 1, 'week');
    const found = await store.pool.query<{ id: number }>(
      "SELECT id FROM series WHERE channel = 'week' AND sensor = 's0'",
    );
    const id = found.rows[0]?.id;
    const q = await queryLatency(
      store,
      async (from, to) =>
        (
          await store.pool.query<{ t: number; value: number }>(
            'SELECT t::float8 AS t, value FROM raw WHERE series_id = $1 AND t >= $2 AND t < $3 ORDER BY t',
            [id, from, to],
          )
        ).rows,
      runsArg ?? (smoke ? 20 : 300),
    );
    report('PostgreSQL', q);
    await store.close();
  } finally {
    await server.stop();
  }
}

/** PostgreSQL ingest (one store, then two at once) and disk figures. */
async function ingestFigures(url: string, store: PostgresStore, count: number): Promise<void> {
  const rate = await ingest(store, count, 20);
  const size = await store.pool.query<{ bytes: string }>(
    "SELECT sum(pg_total_relation_size(c.oid))::text AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'",
  );
  const bytes = Number(size.rows[0]?.bytes);
  console.log(
    `PostgreSQL ingest: ${fmt(count)} readings (20 sensors, batches of ${BATCH}, fsync on) at ${fmt(rate)} readings/s`,
  );
  console.log(
    `PostgreSQL disk: ${fmt(bytes / count, 1)} bytes/reading (tables + indexes, all tiers) = ${fmt(((bytes / count) * 1e6) / 2 ** 20, 1)} MiB per million`,
  );
  // Two writers at once (two instances sharing one history).
  const other = await openPostgresStore({ connectionString: url, pruneIntervalMs: 0 });
  const t0 = performance.now();
  const half = smoke ? 20_000 : 500_000;
  await Promise.all([ingest(store, half, 20, 'a'), ingest(other, half, 20, 'b')]);
  console.log(
    `PostgreSQL ingest, two instances at once: ${fmt((2 * half) / ((performance.now() - t0) / 1000))} readings/s in total`,
  );
  await other.close();
}

/** RSS of this process after 1 M and after 10 M readings written to one SQLite store. */
async function rssBench(): Promise<void> {
  const store = openSqliteStore({ path: join(tmp, 'rss.db'), pruneIntervalMs: 0, retention: { raw: 30 * DAY } });
  const total = smoke ? 200_000 : 10_000_000;
  const mark = total / 10;
  const gc = (globalThis as { gc?: () => void }).gc;
  let written = 0;
  let rss1 = 0;
  for (const batch of readings(total, 100)) {
    await store.write(batch);
    written += batch.length;
    if (written === mark) {
      gc?.();
      rss1 = process.memoryUsage().rss;
    }
  }
  gc?.();
  const rss10 = process.memoryUsage().rss;
  console.log(
    `SQLite RSS: ${fmt(rss1 / 2 ** 20, 1)} MiB at ${fmt(mark)} readings, ${fmt(rss10 / 2 ** 20, 1)} MiB at ${fmt(total)} (${fmt((rss10 / rss1 - 1) * 100, 1)} %)`,
  );
  await store.close();
}

async function main(): Promise<void> {
  if (rss) await rssBench();
  else {
    if (which === 'sqlite' || which === 'both') await sqlite();
    if (which === 'postgres' || which === 'both') await postgres();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
