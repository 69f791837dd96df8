import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { chromiumPath } from '../../../test-support/system.js';
import type { RunningDashboard } from '../src/server.js';
import { chartValues, openDashboard, pageInChromium, tableValues } from './dashboard-page.js';
import { postReadings, start, waitFor } from './helpers.js';

const ARTIFACTS = fileURLToPath(new URL('../.artifacts/', import.meta.url));

function listed(page: Page): Promise<string[]> {
  return page.$$eval('#device-list button[data-device]', (buttons) =>
    buttons.map((b) => `${(b as HTMLElement).dataset.device}:${b.getAttribute('aria-pressed')}`),
  );
}

describe.skipIf(!chromiumPath)('several devices on one dashboard (Chromium)', () => {
  const chromium = pageInChromium();
  let app: RunningDashboard | undefined;
  let page: Page | undefined;
  let problems: string[];

  afterEach(async () => {
    await page?.close();
    await app?.close();
    expect(problems).toEqual([]);
  });

  async function open(url: string): Promise<Page> {
    const opened = await openDashboard(chromium.browser, url);
    problems = opened.problems;
    return opened.page;
  }

  for (const transport of ['sse', 'ws'] as const) {
    it(`lists the devices, charts only the one picked, and switches in place (${transport})`, async () => {
      app = await start({ assetsDir: chromium.assetsDir, capacity: 60, devices: ['dev-a', 'dev-b'] });
      const url = app.url;
      const send = (device: string, values: number[]) =>
        fetch(`${url}/api/readings?device=${device}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify(values.map((value) => ({ sensor: 'temperature', value }))),
        }).then((r) => expect(r.status).toBe(200));
      // Some history of each before the page opens.
      await send('dev-a', [10, 11]);
      await send('dev-b', [90, 91]);

      page = await open(`${url}/?transport=${transport}&device=dev-a`);
      const p = page;
      await waitFor(async () => (await listed(p)).length === 2, 'both devices listed');
      expect(await listed(p)).toEqual(['dev-a:true', 'dev-b:false']);
      await waitFor(async () => (await chartValues(p, 'temperature')).length === 2, "dev-a's history");

      // B's readings go out first, A's after them on the same server: once A's last one is on the
      // chart, any of B's that reached this page would be there too.
      for (let i = 0; i < 5; i++) {
        await send('dev-b', [100 + i]);
        await send('dev-a', [20 + i]);
      }
      const aValues = [10, 11, 20, 21, 22, 23, 24];
      await waitFor(async () => (await chartValues(p, 'temperature')).length >= aValues.length, "dev-a's live points");
      expect(await chartValues(p, 'temperature')).toEqual(aValues);
      expect(await tableValues(p, 'temperature')).toEqual(aValues.slice().reverse());
      await expect(p.locator('#temperature-card [data-stat="max"]').textContent()).resolves.toBe('24.0 °C');
      await expect(p.locator('#device').textContent()).resolves.toMatch(/Device dev-a: online/);

      // Inject from the page: the readings are dev-a's, dev-b's state is untouched.
      const bBefore = app.hub.channel('dev-b').state.sensors.temperature.points.length;
      await p.getByRole('button', { name: 'Inject 1 random reading per sensor' }).click();
      await p.locator('#inject-result', { hasText: 'Injected 3 readings.' }).waitFor();
      expect(app.hub.channel('dev-a').state.sensors.temperature.points).toHaveLength(aValues.length + 1);
      expect(app.hub.channel('dev-b').state.sensors.temperature.points).toHaveLength(bBefore);
      await waitFor(async () => (await chartValues(p, 'temperature')).length === aValues.length + 1, 'the injected');

      // Pick B: its charts from its own history and live readings, nothing of A's.
      await p.locator('#device-list button[data-device="dev-b"]').click();
      expect(new URL(p.url()).searchParams.get('device')).toBe('dev-b');
      await waitFor(async () => (await listed(p)).includes('dev-b:true'), 'dev-b pressed');
      const bValues = [90, 91, 100, 101, 102, 103, 104];
      await waitFor(
        async () => JSON.stringify(await chartValues(p, 'temperature')) === JSON.stringify(bValues),
        `dev-b's history on the chart (${transport})`,
      );
      await send('dev-a', [30]);
      await send('dev-b', [105]);
      await waitFor(async () => (await chartValues(p, 'temperature')).length === bValues.length + 1, 'dev-b live');
      expect(await chartValues(p, 'temperature')).toEqual([...bValues, 105]);
      expect(await tableValues(p, 'temperature')).toEqual([105, 104, 103, 102, 101, 100, 91, 90].slice(0, 10));
      await expect(p.locator('#device-title').textContent()).resolves.toBe('Device dev-b');

      // A device that sends its first reading appears in the list without a reload.
      await send('dev-c', [5]);
      await waitFor(async () => (await listed(p)).includes('dev-c:false'), 'dev-c listed');
      expect(await chartValues(p, 'temperature')).toEqual([...bValues, 105]);
      mkdirSync(ARTIFACTS, { recursive: true });
      await p.screenshot({ path: `${ARTIFACTS}sensor-dashboard-devices-${transport}.png`, fullPage: true });
    }, 90_000);
  }

  it('?device= that is no device id is said at once, nothing is subscribed, and a listed device can be picked', async () => {
    app = await start({ assetsDir: chromium.assetsDir, devices: ['dev-a'] });
    page = await open(`${app.url}/?device=..`);
    const p = page;
    await p.locator('#device[data-online="invalid"]', { hasText: 'is not a valid device id' }).waitFor();
    await expect(p.locator('#device').textContent()).resolves.toMatch(/^Device "\.\." is not a valid device id/);
    await waitFor(async () => (await listed(p)).length === 1, 'the device list');
    // Not replaced by the first device, nor "not seen yet" a second later.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await listed(p)).toEqual(['dev-a:false']);
    await expect(p.locator('#device').getAttribute('data-online')).resolves.toBe('invalid');
    await p.locator('#device-list button[data-device="dev-a"]').click();
    await waitFor(async () => (await listed(p)).includes('dev-a:true'), 'dev-a picked');
    await expect(p.locator('#device').textContent()).resolves.toBe('Device dev-a: not seen yet');
    expect(new URL(p.url()).searchParams.get('device')).toBe('dev-a');
  });

  it('the single-device dashboard lists its one device and shows it without ?device=', async () => {
    app = await start({ assetsDir: chromium.assetsDir });
    await postReadings(app.url, { sensor: 'light', value: 321 });
    page = await open(app.url);
    const p = page;
    await waitFor(async () => (await chartValues(p, 'light')).length === 1, 'the reading');
    expect(await listed(p)).toEqual(['default:true']);
    expect(await chartValues(p, 'light')).toEqual([321]);
  });
});
