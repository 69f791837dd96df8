import { afterEach, describe, expect, it } from 'vitest';
import { newContextForTest, openFramingPage, openWithToken } from '../../../test-support/security-browser.js';
import { chromiumPath } from '../../../test-support/system.js';
import type { RunningDashboard } from '../src/server.js';
import { pageInChromium } from './dashboard-page.js';
import { start } from './helpers.js';

describe.skipIf(!chromiumPath)('sensor-dashboard security in Chromium', () => {
  const chromium = pageInChromium();
  let app: RunningDashboard | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  const newContext = () => newContextForTest(chromium.browser, { viewport: { width: 1280, height: 1000 } });

  it('a page on another origin cannot frame the dashboard (its own frame loads)', async () => {
    app = await start({ assetsDir: chromium.assetsDir });
    const { victim } = await openFramingPage(await newContext(), `http://127.0.0.1:${app.port}/`, {
      width: 1000,
      height: 800,
    });
    expect(victim).not.toBeNull();
    // Chromium replaces a frame refused by frame-ancestors with its error page.
    expect(victim?.url()).not.toContain(`127.0.0.1:${app.port}`);
    expect(await victim?.locator('#inject-10').count()).toBe(0);
  });

  it('the page itself is served with frame-ancestors none and nosniff', async () => {
    app = await start({ assetsDir: chromium.assetsDir });
    for (const path of ['/', '/app.js', '/app.css']) {
      const res = await fetch(`http://127.0.0.1:${app.port}${path}`);
      await res.arrayBuffer();
      expect(res.headers.get('content-security-policy'), path).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
  });

  it.each(['sse', 'ws'] as const)(
    'with a control token, the page opened with ?token= injects over %s; a fresh browser watches but cannot',
    async (t) => {
      app = await start({ assetsDir: chromium.assetsDir, controlToken: 'ctl-secret' });
      const origin = `http://127.0.0.1:${app.port}`;
      const { page, problems } = await openWithToken(await newContext(), origin, 'ctl-secret', t);
      await page.locator('#connection[data-status="open"]').waitFor({ timeout: 10_000 });
      await page.getByRole('button', { name: 'Inject 1 random reading per sensor' }).click();
      await page.locator('#inject-result', { hasText: 'Injected 3 readings.' }).waitFor({ timeout: 10_000 });
      expect(problems).toEqual([]);
      // Still no cookie readable by scripts once the page has connected and been used.
      expect(await page.evaluate(() => document.cookie)).toBe('');

      const stranger = await (await newContext()).newPage();
      await stranger.goto(`${origin}/?transport=${t}`);
      // Watching is open …
      await stranger.locator('#connection[data-status="open"]').waitFor({ timeout: 10_000 });
      // … changing is not: the page reports the refusal and nothing is stored.
      await stranger.getByRole('button', { name: 'Inject 10 random readings per sensor' }).click();
      await stranger
        .locator('#inject-result', { hasText: /token|unauthorized|not authorized/i })
        .waitFor({ timeout: 10_000 });
      expect(app.hub.state.sensors.light.points.length).toBe(1);
    },
  );
});
