import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceAliases } from '../../../scripts/workspace-sources.mjs';
import { chromiumPath, type LaunchedBrowser, launchChromium } from '../../../test-support/system.js';
import { buildPage } from '../scripts/build.mjs';
import { type Fleet, startFleet } from '../src/server.js';
import { parseUsers } from '../src/users.js';

const users = parseUsers({
  users: {
    alice: { token: 'alice-secret-token', see: ['*'], control: ['*'] },
    bob: { token: 'bob-secret-token', see: ['board-1', 'board-2', 'board-3'], control: ['board-1'] },
  },
});
const publicDir = fileURLToPath(new URL('../.artifacts/public/', import.meta.url));

async function login(browser: Browser, fleet: Fleet, token: string, transport: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('[page error]', error));
  await page.goto(`http://127.0.0.1:${fleet.port}/?token=${token}`); // 303 + session cookie
  await page.goto(`http://127.0.0.1:${fleet.port}/?transport=${transport}`);
  return page;
}

const boardsShown = (page: Page) =>
  page.$$eval('#boards li', (items) => items.map((li) => (li as HTMLElement).dataset.board));

describe.skipIf(!chromiumPath).each(['sse', 'ws'] as const)('fleet in Chromium over %s', (transport) => {
  let launched: LaunchedBrowser;
  let fleet: Fleet;
  let bob: Page;
  let alice: Page;

  beforeAll(async () => {
    const { copyFileSync, mkdirSync } = await import('node:fs');
    mkdirSync(publicDir, { recursive: true });
    for (const file of ['index.html', 'style.css']) {
      copyFileSync(fileURLToPath(new URL(`../public/${file}`, import.meta.url)), `${publicDir}${file}`);
    }
    await buildPage({ alias: sourceAliases, outfile: `${publicDir}app.js` });
    fleet = await startFleet({ port: 0, host: '127.0.0.1', boards: 6, users, log: false, publicDir, inputEveryMs: 0 });
    launched = await launchChromium();
    bob = await login(launched.browser, fleet, 'bob-secret-token', transport);
    alice = await login(launched.browser, fleet, 'alice-secret-token', transport);
  });

  afterAll(async () => {
    await launched?.close();
    await fleet?.close();
  });

  it('a user who may see boards 1–3 sees exactly those; alice sees all six', async () => {
    await bob.waitForFunction(() => document.querySelectorAll('#boards li').length === 3, undefined, {
      timeout: 15_000,
    });
    expect(await boardsShown(bob)).toEqual(['board-1', 'board-2', 'board-3']);
    await alice.waitForFunction(() => document.querySelectorAll('#boards li').length === 6, undefined, {
      timeout: 15_000,
    });
    expect(await bob.locator('#user').textContent()).toBe('bob');
  });

  it('bob switches board-1 (alice sees it), may not switch board-2, and the server refuses it anyway', async () => {
    const led = (page: Page, id: string) => page.locator(`li[data-board="${id}"] .led`);
    await expect.poll(() => led(bob, 'board-1').textContent(), { timeout: 15_000 }).toBe('LED off');
    await led(bob, 'board-1').click();
    await expect.poll(() => led(alice, 'board-1').textContent(), { timeout: 15_000 }).toBe('LED on');
    expect(await led(bob, 'board-2').isDisabled()).toBe(true);
    // The switch is greyed out; a request made by hand is refused and never reaches the board.
    const status = await bob.evaluate(async () => {
      const r = await fetch('/api/commands/led?channel=board-2', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ state: 'on' }),
      });
      return r.status;
    });
    expect(status).toBe(403);
    expect(fleet.hub.channel('board-2').state.led.on).toBe(false);
  });

  it('a board that goes offline is shown offline, and a button press shows at once', async () => {
    fleet.boards.get('board-2')?.goOffline();
    await expect
      .poll(() => bob.locator('li[data-board="board-2"]').getAttribute('data-status'), { timeout: 15_000 })
      .toBe('offline');
    fleet.boards.get('board-3')?.press(0);
    await expect
      .poll(() => bob.locator('li[data-board="board-3"]').getAttribute('data-button'), { timeout: 15_000 })
      .toBe('pressed');
    fleet.boards.get('board-2')?.goOnline();
    fleet.boards.get('board-3')?.release(0);
  });

  it('a new board appears without a reload (for the users who may see it), and a removed one goes', async () => {
    await fleet.addBoard('board-7');
    await expect.poll(() => boardsShown(alice), { timeout: 15_000 }).toContain('board-7');
    expect(await boardsShown(bob)).not.toContain('board-7');
    await fleet.removeBoard('board-7');
    await expect.poll(() => boardsShown(alice), { timeout: 15_000 }).not.toContain('board-7');
  });
});
