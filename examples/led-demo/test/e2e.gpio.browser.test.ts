/**
 * The LED demo with `--board gpio` in Chromium: the real GPIO helper process
 * on an emulated Raspberry Pi 5 chip (test-support/emulated-gpio, line names
 * from the Pi 5 device tree, gpiod v2 API). A click travels page → server →
 * helper → kernel line; a press on the emulated line travels kernel → helper →
 * server → page.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmulatedGpio } from '../../../test-support/emulated-gpio/index.js';
import { chromiumPath, type LaunchedBrowser, launchChromium, pythonPath } from '../../../test-support/system.js';
import type { Demo } from '../src/server.js';
import { artifactsDir, buildPageFromSources, expectText, openPage, waitFor } from './helpers.js';
import { startTestDemo } from './test-demo.js';

const RP1 = 'pinctrl-rp1';

describe.skipIf(!chromiumPath || !pythonPath)('led-demo --board gpio (emulated Pi 5 chip) in Chromium', () => {
  let gpio: EmulatedGpio;
  let demo: Demo;
  let launched: LaunchedBrowser;
  let page: Page;

  beforeAll(async () => {
    await buildPageFromSources();
    gpio = await EmulatedGpio.start('pi5', 2, pythonPath);
    demo = await startTestDemo({ board: { kind: 'gpio', env: gpio.env, python: pythonPath ?? 'python3' } });
    launched = await launchChromium();
    page = await openPage(launched.browser, `http://127.0.0.1:${demo.port}/`);
    await expectText(page, '#conn-status', 'open');
  });

  afterAll(async () => {
    await launched?.close();
    await demo?.close();
    await gpio?.close();
  });

  it('starts with the LED off, the line held low, and the default pins as BCM numbers (pin 0 is ID_SDA)', async () => {
    expect(demo.board?.kind).toBe('linux-gpio');
    await expectText(page, '#led-state', 'off');
    await expectText(page, '#board-status', 'online');
    await expectText(page, '#input-0 td.active', 'released');
    expect(await gpio.level(RP1, 5)).toMatchObject({ level: 0, held: true, consumer: 'led-demo' });
    expect(await gpio.level(RP1, 0)).toMatchObject({ held: true, direction: 'input' });
  });

  it('a click on "LED on" drives the kernel line high; Toggle drives it low again', async () => {
    await page.getByRole('button', { name: 'LED on' }).click();
    await expectText(page, '#led-state', 'on');
    await waitFor(async () => (await gpio.level(RP1, 5)).level === 1, 'line 5 high');
    await page.screenshot({ path: `${artifactsDir}gpio-led-on.png` });
    await page.getByRole('button', { name: 'Toggle' }).click();
    await expectText(page, '#led-state', 'off');
    expect((await gpio.level(RP1, 5)).level).toBe(0);
  });

  it('a press on the emulated button line shows "pressed" in the page, and release likewise', async () => {
    await gpio.drive(RP1, 0, 0);
    await expectText(page, '#input-0 td.active', 'pressed', 3000);
    await page.screenshot({ path: `${artifactsDir}gpio-pressed.png` });
    await gpio.drive(RP1, 0, null);
    await expectText(page, '#input-0 td.active', 'released', 3000);
  });

  it('closing the demo releases every line', async () => {
    await demo.close();
    for (const offset of [0, 4, 5]) expect(await gpio.level(RP1, offset)).toMatchObject({ held: false });
  });
});
