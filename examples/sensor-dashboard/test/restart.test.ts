import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '@boardcast/telemetry/sqlite';
import { afterAll, expect, it } from 'vitest';
import type { RunningDashboard } from '../src/server.js';
import { start, waitFor } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sensor-dashboard-restart-'));
const running: RunningDashboard[] = [];
afterAll(async () => {
  for (const app of running) await app.close();
  rmSync(dir, { recursive: true, force: true });
});

// The newcomer's report: after a restart on the same --db a device known only from the store was
// half there (history drawn, but not listed, "Latest" empty, set_alarm/inject 404 no device).
it('a device known only from the store comes back after a restart: listed offline, latest value, commands', async () => {
  const path = join(dir, 'readings.db');
  const first = openSqliteStore({ path });
  const before = await start({ store: first });
  running.push(before);
  const at = Date.now() - 5000;
  const posted = await fetch(`${before.url}/api/readings?device=greenhouse`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify([
      { sensor: 'temperature', value: 21.5, at },
      { sensor: 'temperature', value: 22.5, at: at + 1000 },
      { sensor: 'humidity', value: 48, at: at + 1000 },
    ]),
  });
  expect(posted.status).toBe(200);
  await before.close(); // writes what is queued
  await first.close();

  const second = openSqliteStore({ path });
  const after = await start({ store: second });
  running.push(after);
  try {
    const greenhouse = after.hub.channel('greenhouse');
    expect(after.hub.directory.get('greenhouse')).toMatchObject({
      kind: 'sensor-device',
      status: 'offline',
      lastSeen: at + 1000,
    });
    expect(greenhouse.state.sensors.temperature.points.map((p) => p.value)).toEqual([21.5, 22.5]);
    expect(greenhouse.state.sensors.temperature.stats.last).toEqual({ value: 22.5, at: at + 1000 });
    expect(greenhouse.state.sensors.humidity.stats.last?.value).toBe(48);
    expect(greenhouse.state.device.lastSeenAt).toBe(at + 1000);
    const page = (await (await fetch(`${after.url}/api/directory`)).json()) as { entries: { id: string }[] };
    expect(page.entries.map((e) => e.id)).toContain('greenhouse');

    const command = (name: string, body: unknown) =>
      fetch(`${after.url}/api/commands/${name}?channel=greenhouse`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await command('set_alarm', { sensor: 'temperature', low: 2, high: 30 })).status).toBe(200);
    expect((await command('inject', { count: 1, sensor: 'light' })).status).toBe(200);
    // Restored readings are not written a second time.
    await waitFor(async () => (await second.recent({ channel: 'greenhouse', sensor: 'light' })).length === 1);
    expect((await second.recent({ channel: 'greenhouse', sensor: 'temperature', limit: 10 })).length).toBe(2);

    // It is online again once it sends.
    expect(
      (
        await fetch(`${after.url}/api/readings?device=greenhouse`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ sensor: 'temperature', value: 23 }),
        })
      ).status,
    ).toBe(200);
    expect(after.hub.directory.get('greenhouse')?.status).toBe('online');
  } finally {
    await after.close();
    await second.close();
  }
});
