import { fileURLToPath } from 'node:url';
import { createHub } from '@boardcast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath } from '../../../test-support/system.js';
import { buildVitePage, type PageServer, servePage } from '../../../test-support/vite-page.js';
import { waitFor } from '../../../test-support/wait.js';
import { contract } from './contract.js';

const pageRoot = fileURLToPath(new URL('./page/', import.meta.url));

function makeHub() {
  const hub = createHub(contract, { state: { led: { on: false } } });
  hub.handle('led', ({ state }) => {
    const on = state === 'toggle' ? !hub.state.led.on : state === 'on';
    hub.publish('led', { on });
    return { on };
  });
  hub.handle('fail', () => {
    throw new Error('secret detail');
  });
  hub.on('error', () => undefined);
  return hub;
}

/**
 * test/page/main.ts built by Vite (as a user's app is) and run in Chromium
 * as a Vue 3 app, over both transports.
 */
describe.skipIf(!chromiumPath)('@boardcast/vue in Chromium (Vite build)', () => {
  let browser: import('playwright-core').Browser;
  let files: Map<string, Buffer>;
  const hub = makeHub();
  let server: PageServer;

  beforeAll(async () => {
    files = await buildVitePage(pageRoot);
    server = await servePage(hub, files);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await hub.close();
  });

  for (const transport of ['sse', 'ws'] as const) {
    it(`${transport}: toggles the LED, shows a button press and a command error; unmount leaves no connection`, async () => {
      const tab = await browser.newPage();
      const text = (id: string) => tab.locator(`#${id}`).textContent();
      const before = server.opened();
      await tab.goto(`${server.origin}/?transport=${transport}`);
      await waitFor(async () => (await text('status')) === 'open', 'open');
      await waitFor(async () => (await text('led')) === 'off', 'the snapshot');
      // One connection for every composable of the page.
      expect(server.opened() - before).toBe(1);
      expect(server.connections()).toBe(1);

      await tab.click('#toggle');
      await waitFor(async () => (await text('led')) === 'on', 'the LED on the page');
      expect(hub.state.led.on).toBe(true);
      expect(await text('result')).toBe('true');

      hub.publish('button', { pressed: true });
      hub.publish('button', { pressed: false });
      await waitFor(async () => (await tab.locator('#presses li').allTextContents()).join() === 'down,up', 'presses');

      await tab.click('#fail');
      await waitFor(async () => (await text('error')) === 'handler_failed', 'the command error');

      await tab.click('#unmount');
      // graceMs is 200 on this page: then nothing may stay open.
      await waitFor(() => server.connections() === 0, 'no connection after unmount');
      await tab.click('#unmount');
      await waitFor(async () => (await text('led')) === 'on', 'mounted again: a new snapshot');
      expect(server.connections()).toBe(1);
      await tab.close();
      await waitFor(() => server.connections() === 0, 'tab closed');
      hub.setState({ led: { on: false } });
    }, 60_000);
  }
});
