import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newContextForTest, openFramingPage, openWithToken } from '../../../test-support/security-browser.js';
import { watchPage } from '../../../test-support/security-probe.js';
import { chromiumPath, type LaunchedBrowser, launchChromium } from '../../../test-support/system.js';
import { type Demo, startDemo } from '../src/server.js';
import { buildPageFromSources } from './helpers.js';

describe.skipIf(!chromiumPath)('led-demo security in Chromium', () => {
  let launched: LaunchedBrowser;
  let demo: Demo | undefined;

  beforeAll(async () => {
    await buildPageFromSources();
    launched = await launchChromium();
  });
  afterAll(async () => {
    await launched?.close();
  });
  afterEach(async () => {
    await demo?.close();
    demo = undefined;
  });

  const newContext = () => newContextForTest(launched.browser);

  it('a page on another origin cannot frame the demo (its own frame loads)', async () => {
    demo = await startDemo({ port: 0, host: '127.0.0.1', log: false });
    const { page, victim } = await openFramingPage(await newContext(), `http://127.0.0.1:${demo.port}/`);
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
    const { page, problems } = await watchPage(await newContext());
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
      const { page, problems } = await openWithToken(await newContext(), origin, 'pt-secret', t);
      await page.locator('#conn-status[data-status="open"]').waitFor({ timeout: 10_000 });
      await page.getByRole('button', { name: 'LED on' }).click();
      await page.locator('#led-state[data-on="true"]').waitFor({ timeout: 10_000 });
      expect(problems).toEqual([]);
      // Still no cookie readable by scripts once the page has connected and been used.
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
