import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBinDir } from '../../../test-support/postgres.js';
import { postgresForSuite } from '../../../test-support/postgres-suite.js';
import { openPostgresStore } from '../src/postgres.js';
import { openSqliteStore } from '../src/sqlite.js';
import type { TelemetryStore } from '../src/types.js';
import { driver, nativeBinding } from './native.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const packages = join(here, '..', '..');
const BATCH = 5_000;

let dir: string;
let bundle: string;

/** Node 20 runs no TypeScript: esbuild bundles the child from sources (the drivers stay external). */
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'boardcast-telemetry-crash-'));
  bundle = join(dir, 'writer.cjs');
  await build({
    entryPoints: [join(here, 'child', 'writer.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'silent',
    external: ['better-sqlite3', 'pg', 'pg-native'],
    alias: { '@boardcast/core': join(packages, 'core', 'src', 'index.ts') },
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run the writer until it acknowledged `batches` commits, then SIGKILL it in the middle of the next one. */
async function killMidIngest(args: string[], batches: number): Promise<number> {
  const child = fork(bundle, args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_PATH: join(here, '..', 'node_modules') },
  });
  let acknowledged = 0;
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    child.on('message', (message: { committed: number }) => {
      acknowledged = message.committed;
      seen += 1;
      child.send('next');
      // The next batch is being written (a 5,000-row transaction): kill it somewhere in there.
      if (seen === batches) setTimeout(() => child.kill('SIGKILL'), seen % 3);
    });
    child.once('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`writer exited with ${code} before it was killed`));
    });
  });
  return acknowledged;
}

async function checkStore(store: TelemetryStore, start: number, acknowledged: number): Promise<number> {
  const raw = await store.stats({ sensor: 'load', from: start });
  const count = raw?.count ?? 0;
  // Everything acknowledged is there, at most the one batch in flight more, and whole batches only.
  expect(count).toBeGreaterThanOrEqual(acknowledged);
  expect(count).toBeLessThanOrEqual(acknowledged + BATCH);
  expect(count % BATCH).toBe(0);
  // The rollups hold exactly the stored readings: a batch landed with its rollups or not at all.
  const hours = await store.query({ sensor: 'load', from: start - 10 * 86_400_000, maxPoints: 2 });
  expect(hours.tier).toBe('hour');
  expect(hours.buckets.reduce((n, b) => n + b.count, 0)).toBe(count);
  expect((await store.latest())[0]?.t).toBe(start + count);
  return count;
}

describe('kill -9 of a process mid-ingest', () => {
  it('SQLite: loses at most the batch in flight, never corrupts, and the next start continues', async () => {
    const file = join(dir, 'crash.db');
    const start = Date.now() - 60_000;
    let previous = 0;
    for (const batches of [7, 3]) {
      const acknowledged = await killMidIngest(['sqlite', file, '-', String(BATCH), String(start)], batches);
      const store = openSqliteStore({ path: file, nativeBinding, driver });
      try {
        expect(store.database.pragma('integrity_check', { simple: true })).toBe('ok');
        const count = await checkStore(store, start, acknowledged);
        expect(count).toBeGreaterThan(previous); // the second run continued after the first
        previous = count;
      } finally {
        await store.close();
      }
    }
  });

  describe.skipIf(!postgresBinDir())('PostgreSQL', () => {
    const server = postgresForSuite();

    let attempt = 0;

    /**
     * PostgreSQL does not notice a dead client while a statement runs: the
     * killed writer's batch goes on and may still commit after the kill (it
     * was in flight, so that is allowed). Checking before its backend ended
     * would read raw rows and rollups in two snapshots, one on each side of
     * that commit. Wait until no other client is connected to the database.
     */
    async function writerGone(url: string): Promise<void> {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        for (let waited = 0; ; waited += 50) {
          const { rows } = await client.query<{ n: number }>(
            `SELECT count(*)::integer AS n FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
          );
          if (rows[0]?.n === 0) return;
          if (waited > 120_000) throw new Error(`the killed writer's ${rows[0]?.n} backend(s) did not end`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      } finally {
        await client.end();
      }
    }

    it('loses at most the batch in flight and the next start continues', async () => {
      // A database of its own per attempt: a retried test must not count the rows of the first.
      attempt += 1;
      const url = await server.createDatabase(`crash_${attempt}`);
      const start = Date.now() - 60_000;
      let previous = 0;
      for (const batches of [7, 3]) {
        const acknowledged = await killMidIngest(['postgres', url, 'crash', String(BATCH), String(start)], batches);
        await writerGone(url);
        const store = await openPostgresStore({ connectionString: url, schema: 'crash' });
        try {
          const count = await checkStore(store, start, acknowledged);
          expect(count).toBeGreaterThan(previous);
          previous = count;
        } finally {
          await store.close();
        }
      }
    });
  });
});
