// The fleet page with 1,000 live boards (each sending a reading a second and
// flipping its button about every 5 s): it shows a page of 50 rows, holds
// the channels of exactly those 50 on the server (the hub's own subscriber
// counts, not the page's word for it), moves that set when it pages, and
// keeps answering — readings keep arriving and a switch still switches.
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceAliases } from '../../../scripts/workspace-sources.mjs';
import { chromiumPath, type LaunchedBrowser, launchChromium } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';
import { buildPage } from '../scripts/build.mjs';
import { type Fleet, startFleet } from '../src/server.js';

const BOARDS = 1000;
const publicDir = fileURLToPath(new URL('../.artifacts/thousand/', import.meta.url));

describe.skipIf(!chromiumPath)('the fleet page with 1,000 boards', () => {
  let launched: LaunchedBrowser;
  let fleet: Fleet;
  const ids = Array.from({ length: BOARDS }, (_, i) => `board-${i + 1}`);

  /** Boards whose channel some connection holds, from the hub itself. */
  const held = () => ids.filter((id) => fleet.hub.channel(id).metrics.subscribers > 0).sort();
  const shown = (page: Page) =>
    page.$$eval('#boards li', (items) => items.map((li) => (li as HTMLElement).dataset.board ?? ''));

  beforeAll(async () => {
    mkdirSync(publicDir, { recursive: true });
    for (const file of ['index.html', 'style.css']) {
      copyFileSync(fileURLToPath(new URL(`../public/${file}`, import.meta.url)), `${publicDir}${file}`);
    }
    await buildPage({ alias: sourceAliases, outfile: `${publicDir}app.js` });
    fleet = await startFleet({ port: 0, host: '127.0.0.1', boards: BOARDS, log: false, publicDir });
    launched = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await launched?.close();
    await fleet?.close();
  });

  it.each(['sse', 'ws'] as const)(
    'over %s: 50 rows, exactly their channels held, paging moves them, readings and a switch still work',
    async (transport) => {
      const context = await launched.browser.newContext();
      try {
        const page = await context.newPage();
        page.on('pageerror', (error) => console.error('[page error]', error));
        await page.goto(`http://127.0.0.1:${fleet.port}/?transport=${transport}`);
        await expect.poll(() => page.locator('#count').textContent(), { timeout: 60_000 }).toBe('1000 boards');
        await expect.poll(() => page.locator('#boards li').count(), { timeout: 60_000 }).toBe(50);
        expect(await page.locator('#page').textContent()).toBe('1 / 20');
        const first = await shown(page);
        // The server holds the channels of the rows on the page, and no other board's.
        await waitFor(() => JSON.stringify(held()) === JSON.stringify([...first].sort()), 'the first 50 held', 60_000);

        // Live: a row's reading changes while the other 950 boards keep publishing.
        const reading = page.locator(`li[data-board="${first[0]}"] .temperature`);
        const at = await waitFor(() => reading.getAttribute('data-at'), 'a first reading', 60_000);
        await expect.poll(() => reading.getAttribute('data-at'), { timeout: 60_000 }).not.toBe(at);

        // Page 2: other rows, and the held set moves with them.
        await page.click('#next');
        await expect.poll(() => page.locator('#page').textContent(), { timeout: 60_000 }).toBe('2 / 20');
        await expect
          .poll(async () => (await shown(page)).some((id) => first.includes(id)), { timeout: 60_000 })
          .toBe(false);
        const second = await shown(page);
        expect(second).toHaveLength(50);
        await waitFor(() => JSON.stringify(held()) === JSON.stringify([...second].sort()), 'page 2 held', 60_000);

        // Still answering: switch a board on page 2, the board and the row follow.
        const target = second[7] as string;
        await page.locator(`li[data-board="${target}"] .led`).click();
        await expect
          .poll(() => page.locator(`li[data-board="${target}"] .led`).textContent(), { timeout: 60_000 })
          .toBe('LED on');
        expect(fleet.hub.channel(target).state.led.on).toBe(true);
        await fleet.hub.call('led', { state: 'off' }, { channel: target });
      } finally {
        await context.close();
      }
      // The page gone, nothing is held.
      await waitFor(() => held().length === 0, 'every channel released', 60_000);
    },
    240_000,
  );
});
