import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@boardcast/browser-client';
import { connectChannels } from '@boardcast/browser-client/channels';
import { DIRECTORY } from '@boardcast/core';
import type { TelemetryStore } from '@boardcast/telemetry';
import { openPostgresStore } from '@boardcast/telemetry/postgres';
import { openSqliteStore } from '@boardcast/telemetry/sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresBinDir } from '../../../test-support/postgres.js';
import { postgresForSuite } from '../../../test-support/postgres-suite.js';
import { type RunningScript, runScript } from '../../../test-support/run-script.js';
import { dashboard } from '../src/contract.js';
import { tempDirForSuite, waitFor } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the start command', () => {
  let server: RunningScript | undefined;
  const dir = tempDirForSuite('sensor-dashboard-start-');
  let client: { close(): void } | undefined;
  afterEach(async () => {
    client?.close();
    await server?.stop('SIGKILL');
  });

  it('builds, serves the page and charts a simulated device that posts over HTTP', async () => {
    // Exactly what `pnpm --filter sensor-dashboard start` runs, on a free port.
    const db = join(dir.path, 'readings.db');
    const app = runScript(root, ['scripts/start.mjs', '--port', '0', '--interval', '100', '--db', db], {
      INGEST_TOKEN: 'start-test-token',
    });
    server = app;
    const url = await printedUrl(app);
    const pid = Number(
      await waitFor(() => /device: simulated \(pid (\d+)\)/.exec(app.output())?.[1], 'the device pid'),
    );
    expect(app.output()).toMatch(/requires "Authorization: Bearer \$INGEST_TOKEN"/);
    expect(app.output()).toContain(`readings: kept in ${db}`);

    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/app.js">');
    expect((await fetch(`${url}/app.js`)).status).toBe(200);

    // The device authenticates with the token it was given and its readings reach a client.
    const live = connect(`${url}/api`, dashboard, { transport: 'sse', eventSource: 'fetch' });
    client = live;
    let readings = 0;
    live.on('reading', () => {
      readings++;
    });
    await waitFor(() => readings >= 6, 'readings from the simulated device', 15_000);
    // The mirror folded the device's `device` events: it has been seen, and its readings counted.
    const state = await live.whenReady();
    await waitFor(() => (live.state?.device.readings ?? 0) >= 6, 'the device status to count its readings');
    expect(state.device.lastSeenAt).toEqual(expect.any(Number));
    expect(live.state?.device.lastSeenAt).toBeGreaterThan(Date.now() - 60_000);
    const unauthorised = await fetch(`${url}/api/readings`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"sensor":"light","value":1}',
    });
    expect(unauthorised.status).toBe(401);

    // Ctrl-C stops the server and its device.
    await interrupt(app);
    await waitFor(() => !alive(pid), 'the device process to exit');

    // The readings outlived the process: the file holds at least what the client saw.
    const store = openSqliteStore({ path: db, pruneIntervalMs: 0 });
    try {
      await expectStored(store, readings);
    } finally {
      await store.close();
    }
  });

  it('--devices 3 starts three simulated devices, each its own channel in the directory', async () => {
    const db = join(dir.path, 'devices.db');
    const app = runScript(root, [
      'scripts/start.mjs',
      '--port',
      '0',
      '--interval',
      '100',
      '--devices',
      '3',
      '--db',
      db,
    ]);
    server = app;
    const url = await printedUrl(app);
    await waitFor(() => app.output().includes('3 devices (device-1 … device-3)'), 'the device line');
    const live = connectChannels(`${url}/api`, dashboard, { channels: [DIRECTORY, 'device-2'] });
    client = live;
    await waitFor(
      () => live.directory.state?.entries.filter((e) => e.status === 'online').length === 3,
      'three devices online',
      15_000,
    );
    expect(live.directory.state?.entries.map((e) => e.id)).toEqual(['device-1', 'device-2', 'device-3']);
    await waitFor(() => (live.channel('device-2').state?.device.readings ?? 0) >= 6, "device-2's readings", 15_000);
    // The default device sends nothing when there are several.
    const stray = await fetch(`${url}/api/telemetry/recent?sensor=temperature&limit=1`);
    expect(await stray.json()).toEqual([]);
    await interrupt(app);
  });

  describe.skipIf(!postgresBinDir())('with --pg-url', () => {
    const pg = postgresForSuite();

    it('keeps the readings in PostgreSQL', async () => {
      const url = await pg.createDatabase('dashboard');
      const app = runScript(root, ['scripts/start.mjs', '--port', '0', '--interval', '100', '--pg-url', url]);
      server = app;
      const page = await printedUrl(app);
      // The lines after the URL may come in a later chunk.
      await waitFor(() => app.output().includes('readings: kept in PostgreSQL (--pg-url)'), 'the store line');
      expect(app.output()).not.toContain(url); // no credentials in the log
      // The chart route answers from PostgreSQL once the simulated device has posted.
      await waitFor(
        async () => {
          const answer = (await (
            await fetch(`${page}/api/telemetry/recent?sensor=temperature&limit=5`)
          ).json()) as unknown[];
          return answer.length >= 3;
        },
        'readings in PostgreSQL',
        15_000,
      );
      await interrupt(app);
      const store = await openPostgresStore({ connectionString: url, pruneIntervalMs: 0 });
      try {
        await expectStored(store, 3);
      } finally {
        await store.close();
      }
    });
  });
});

/** The URL the start command prints once it listens (a cold build takes a while). */
function printedUrl(app: RunningScript): Promise<string> {
  return waitFor(() => /sensor dashboard: (http:\S+)/.exec(app.output())?.[1], 'the URL to be printed', 60_000);
}

/** Ctrl-C, and the process has exited. */
async function interrupt(app: RunningScript): Promise<void> {
  app.child.kill('SIGINT');
  await waitFor(() => app.child.exitCode !== null, 'the server to exit');
}

/** At least `count` readings of the simulated device's sensors are in the store. */
async function expectStored(store: TelemetryStore, count: number): Promise<void> {
  let stored = 0;
  for (const sensor of ['temperature', 'humidity', 'light']) {
    stored += (await store.stats({ sensor, from: Date.now() - 3_600_000 }))?.count ?? 0;
  }
  expect(stored).toBeGreaterThanOrEqual(count);
  expect((await store.series()).map((s) => s.sensor).sort()).toEqual(['humidity', 'light', 'temperature']);
}
