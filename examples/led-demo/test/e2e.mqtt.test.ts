/**
 * The LED demo with `--board mqtt`: Chromium → demo server → MqttBoard →
 * a real mosquitto → a Tasmota device double, and back.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TasmotaDouble } from '../../../packages/mqtt/test/devices.js';
import { type MosquittoProcess, startMosquitto } from '../../../test-support/mosquitto.js';
import { chromiumPath, type LaunchedBrowser, launchChromium, mosquittoPath } from '../../../test-support/system.js';
import { type Demo, startDemo } from '../src/server.js';
import { buildPageFromSources, expectText, waitFor } from './helpers.js';

describe.skipIf(!chromiumPath || !mosquittoPath)('led-demo --board mqtt in Chromium', () => {
  let broker: MosquittoProcess;
  let device: TasmotaDouble;
  let demo: Demo;
  let launched: LaunchedBrowser;
  let page: Page;

  beforeAll(async () => {
    broker = await startMosquitto();
    device = await TasmotaDouble.start(broker.url, 'demo_plug', { switches: 2 });
    await buildPageFromSources();
    demo = await startDemo({
      port: 0,
      host: '127.0.0.1',
      log: false,
      board: { kind: 'mqtt', url: broker.url, device: 'demo_plug' },
    });
    launched = await launchChromium();
    const context = await launched.browser.newContext();
    page = await context.newPage();
    page.on('pageerror', (error) => console.error('[page error]', error));
    await page.goto(`http://127.0.0.1:${demo.port}/`);
    await expectText(page, '#conn-status', 'open');
  });

  afterAll(async () => {
    await launched?.close();
    await demo?.close();
    await device?.stop();
    await broker?.stop();
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
