import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, type LaunchedBrowser, launchChromium } from '../../../test-support/system.js';
import { type Demo, startDemo } from '../src/server.js';
import { buildPageFromSources } from './helpers.js';

/**
 * A page on another origin (another port on 127.0.0.1) that frames the demo
 * beside a frame of its own, so the test shows framing works in general
 * and is refused for the demo only.
 */
async function startAttacker(target: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    if (req.url === '/own') res.end('<!doctype html><p id="own">own frame</p>');
    else
      res.end(
        `<!doctype html><iframe name="victim" src="${target}" style="opacity:0.01" width="800" height="600"></iframe>` +
          '<iframe name="own" src="/own"></iframe>',
      );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

/** CSP violations and console errors of a page (a CSP that breaks the page shows up here). */
async function watch(context: BrowserContext): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  const problems: string[] = [];
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP ${e.violatedDirective}`));
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  return { page, problems };
}

describe.skipIf(!chromiumPath)('led-demo security in Chromium', () => {
  let launched: LaunchedBrowser;
  let demo: Demo | undefined;
  let attacker: Server | undefined;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    await buildPageFromSources();
    launched = await launchChromium();
  });
  afterAll(async () => {
    await launched?.close();
  });
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    await demo?.close();
    demo = undefined;
    await new Promise((resolve) => (attacker ? attacker.close(resolve) : resolve(undefined)));
    attacker = undefined;
  });

  const newContext = async () => {
    const context = await launched.browser.newContext();
    contexts.push(context);
    return context;
  };

  it('a page on another origin cannot frame the demo (its own frame loads)', async () => {
    demo = await startDemo({ port: 0, host: '127.0.0.1', log: false });
    const evil = await startAttacker(`http://127.0.0.1:${demo.port}/`);
    attacker = evil.server;
    const page = await (await newContext()).newPage();
    await page.goto(evil.url, { waitUntil: 'load' });
    const own = page.frame({ name: 'own' });
    await expect(own?.locator('#own').textContent()).resolves.toBe('own frame');
    const victim = page.frame({ name: 'victim' });
    expect(victim).not.toBeNull();
    // Chromium replaces a frame refused by frame-ancestors with its error page.
    expect(victim?.url()).not.toContain(`127.0.0.1:${demo.port}`);
    expect(await victim?.locator('#led-on').count()).toBe(0);
    // A click where the button would be reaches nothing.
    await page.mouse.click(100, 200);
    expect(demo.hub.state.led.on).toBe(false);
  });

  it.each(['sse', 'ws'] as const)('the page runs under its CSP over %s (no violation, the LED switches)', async (t) => {
    demo = await startDemo({ port: 0, host: '127.0.0.1', log: false });
    const { page, problems } = await watch(await newContext());
    await page.goto(`http://127.0.0.1:${demo.port}/?transport=${t}`);
    await page.locator('#conn-status[data-status="open"]').waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'LED on' }).click();
    await page.locator('#led-state[data-on="true"]').waitFor({ timeout: 10_000 });
    expect(problems).toEqual([]);
  });

  it.each(['sse', 'ws'] as const)(
    'with --page-token, the page opened with ?token= works over %s; a fresh browser cannot switch the LED',
    async (t) => {
      demo = await startDemo({ port: 0, host: '127.0.0.1', log: false, pageToken: 'pt-secret' });
      const origin = `http://127.0.0.1:${demo.port}`;
      const { page, problems } = await watch(await newContext());
      await page.goto(`${origin}/?token=pt-secret&transport=${t}`);
      // The token left the address bar.
      expect(page.url()).toBe(`${origin}/?transport=${t}`);
      await page.locator('#conn-status[data-status="open"]').waitFor({ timeout: 10_000 });
      await page.getByRole('button', { name: 'LED on' }).click();
      await page.locator('#led-state[data-on="true"]').waitFor({ timeout: 10_000 });
      expect(problems).toEqual([]);
      // The cookie is not readable by scripts.
      expect(await page.evaluate(() => document.cookie)).toBe('');

      const stranger = await (await newContext()).newPage();
      await stranger.goto(`${origin}/?transport=${t}`);
      const status = await stranger.evaluate(() =>
        fetch('/api/commands/led', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{"state":"off"}',
        }).then((r) => r.status),
      );
      expect(status).toBe(401);
      expect(demo.hub.state.led.on).toBe(true);
    },
  );
});
