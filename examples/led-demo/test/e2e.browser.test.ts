import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, type LaunchedBrowser, launchChromium } from '../../../test-support/system.js';
import type { Demo } from '../src/server.js';
import { artifactsDir, buildPageFromSources, expectText, openPage, waitFor } from './helpers.js';
import { startTestDemo } from './test-demo.js';

const base = (demo: Demo) => `http://127.0.0.1:${demo.port}/`;

describe.skipIf(!chromiumPath).each(['sse', 'ws'] as const)('led-demo in Chromium over %s', (transport) => {
  let launched: LaunchedBrowser;
  let demo: Demo;
  let pageA: Page;
  let pageB: Page;

  beforeAll(async () => {
    await buildPageFromSources();
    demo = await startTestDemo({ transport });
    launched = await launchChromium();
    pageA = await openPage(launched.browser, `${base(demo)}?transport=${transport}`);
    pageB = await openPage(launched.browser, `${base(demo)}?transport=${transport}`);
    await expectText(pageA, '#conn-status', 'open');
    await expectText(pageB, '#conn-status', 'open');
  });

  afterAll(async () => {
    await launched?.close();
    await demo?.close();
  });

  const shot = (page: Page, name: string) => page.screenshot({ path: `${artifactsDir}${transport}-${name}.png` });

  it('shows the transport in use and the initial state', async () => {
    expect(await pageA.locator('#transport').inputValue()).toBe(transport);
    await expectText(pageA, '#led-state', 'off');
    await expectText(pageA, '#board-status', 'online');
    await expectText(pageA, '#input-0 td.active', 'released');
    await shot(pageA, 'initial');
  });

  it('clicking "LED on" in page A shows the LED on in A and B', async () => {
    await pageA.getByRole('button', { name: 'LED on' }).click();
    await expectText(pageA, '#led-state', 'on');
    await expectText(pageB, '#led-state', 'on');
    expect(await pageB.locator('#led-lamp').getAttribute('class')).toContain('on');
    await shot(pageB, 'led-on');
    await pageB.getByRole('button', { name: 'Toggle' }).click();
    await expectText(pageA, '#led-state', 'off');
  });

  it('a simulated button press shows "pressed" in both pages within a second, and release likewise', async () => {
    const board = demo.board as import('@boardcast/board-adapter-gpio').SimulatedBoard;
    board.press(0);
    await expectText(pageA, '#input-0 td.active', 'pressed', 1000);
    await expectText(pageB, '#input-0 td.active', 'pressed', 1000);
    await shot(pageA, 'pressed');
    board.release(0);
    await expectText(pageA, '#input-0 td.active', 'released', 1000);
    await expectText(pageB, '#input-0 td.active', 'released', 1000);
  });

  it('the virtual board panel drives the button with the mouse (press and hold)', async () => {
    const hold = pageA.locator('#sim-0');
    await hold.hover();
    await pageA.mouse.down();
    await expectText(pageB, '#input-0 td.active', 'pressed');
    expect(await hold.getAttribute('aria-pressed')).toBe('true');
    await pageA.mouse.up();
    await expectText(pageB, '#input-0 td.active', 'released');
  });

  it('the server is stopped and started again: both pages show reconnecting, then the right state, without a reload', async () => {
    const port = demo.port;
    await pageA.evaluate(() => {
      (window as unknown as { __marker: number }).__marker = 42;
    });
    await demo.close();
    await expectText(pageA, '#conn-status', 'reconnecting', 10_000);
    await expectText(pageB, '#conn-status', 'reconnecting', 10_000);
    await shot(pageA, 'reconnecting');

    demo = await startTestDemo({ port, transport });
    await demo.hub.call('led', { state: 'on' });
    await expectText(pageA, '#conn-status', 'open', 15_000);
    await expectText(pageB, '#conn-status', 'open', 15_000);
    await expectText(pageA, '#led-state', 'on');
    await expectText(pageB, '#led-state', 'on');
    // Same document: no reload happened.
    expect(await pageA.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(42);
    const server = await (await fetch(`${base(demo)}api/state`)).json();
    await waitFor(
      async () => (await pageB.evaluate(() => window.__demo?.client.state?.led.on)) === server.led.on,
      'page B state to match the server',
    );
    await shot(pageB, 'after-restart');
  });
});
