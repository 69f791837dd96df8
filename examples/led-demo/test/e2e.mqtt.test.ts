/**
 * The LED demo with `--board mqtt`: Chromium → demo server → MqttBoard →
 * a real mosquitto → a Tasmota device double, and back.
 */
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { TasmotaDouble } from '../../../packages/mqtt/test/devices.js';
import { type MosquittoProcess, startMosquitto } from '../../../test-support/mosquitto.js';
import { keepForSuite } from '../../../test-support/suite-teardown.js';
import { chromiumPath, type LaunchedBrowser, launchChromium, mosquittoPath } from '../../../test-support/system.js';
import type { Demo } from '../src/server.js';
import { buildPageFromSources, expectText, waitFor } from './helpers.js';
import { startTestDemo } from './test-demo.js';

describe.skipIf(!chromiumPath || !mosquittoPath)('led-demo --board mqtt in Chromium', () => {
  const keep = keepForSuite();
  let broker: MosquittoProcess;
  let device: TasmotaDouble;
  let demo: Demo;
  let launched: LaunchedBrowser;
  let page: Page;

  beforeAll(async () => {
    broker = keep(await startMosquitto(), (started) => started.stop());
    device = keep(await TasmotaDouble.start(broker.url, 'demo_plug', { switches: 2 }), (started) => started.stop());
    await buildPageFromSources();
    demo = keep(await startTestDemo({ board: { kind: 'mqtt', url: broker.url, device: 'demo_plug' } }));
    launched = keep(await launchChromium());
    const context = await launched.browser.newContext();
    page = await context.newPage();
    page.on('pageerror', (error) => console.error('[page error]', error));
    await page.goto(`http://127.0.0.1:${demo.port}/`);
    await expectText(page, '#conn-status', 'open');
  });

  it('toggles the LED from the page; the page shows what the device reported', async () => {
    await expectText(page, '#board-status', 'online');
    await expectText(page, '#led-state', 'off');
    await page.getByRole('button', { name: 'Toggle' }).click();
    await expectText(page, '#led-state', 'on');
    expect(device.relays[0]).toBe(true);
    expect(device.received).toContain('POWER ON');
    await page.getByRole('button', { name: 'Toggle' }).click();
    await expectText(page, '#led-state', 'off');
    expect(device.relays[0]).toBe(false);
  });

  it('the switches are Tasmota switches, not pull-up buttons: released while off, pressed while on, named as the device names them', async () => {
    // Not pressed at idle: a detached Tasmota switch reports OFF (0) when open.
    await expectText(page, '#input-0 td.active', 'released');
    await expectText(page, '#input-4 td.active', 'released');
    await expectText(page, '#input-0 td.pin', 'Switch1');
    await expectText(page, '#input-4 td.pin', 'Switch2');
    device.setSwitch(0, true);
    await expectText(page, '#input-0 td.active', 'pressed');
    device.setSwitch(0, false);
    await expectText(page, '#input-0 td.active', 'released');
  });

  it("the plug's own button: the page follows at once, without a reconnect", async () => {
    await expectText(page, '#led-state', 'off');
    device.pressButton();
    await expectText(page, '#led-state', 'on');
    device.pressButton();
    await expectText(page, '#led-state', 'off');
  });

  it('the device dies: its last will turns the page offline', async () => {
    device.kill();
    await expectText(page, '#board-status', 'offline');
    await page.getByRole('button', { name: 'LED on' }).click();
    await waitFor(async () => (await page.locator('#command-error').textContent())?.includes('offline'), 'error shown');
    expect(await page.locator('#led-state').textContent()).toBe('off');
  });
});
