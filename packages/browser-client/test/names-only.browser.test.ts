import { beforeAll, describe, expect, it } from 'vitest';
import { suiteBrowser } from '../../../test-support/suite-browser.js';
import { chromiumPath, launchChromium } from '../../../test-support/system.js';
import { makeHub, serve, type TestServer, tick } from './helpers.js';
import { buildPage, openPage, PAGE, pageRoutes } from './page-bundle.js';

/**
 * A page as the README's "Keeping schema libraries out of the page" builds
 * it: the `/sse` entry, the event names and reducers as the contract value,
 * nothing from the server's contract (which validates with zod). Bundled
 * for the browser with code splitting, as a page's bundler would.
 */
const pageSource = `
import { connectSse } from './src/sse.ts';
const reducers = { led: (s, led) => ({ ...s, led }), tick: (s, tick) => ({ ...s, tick }) };
const r = (window.result = { ticks: [], status: [], state: null });
const client = connectSse('/api', { events: { led: 1, pin_change: 1, tick: 1 }, reducers });
client.onStatus((s) => r.status.push(s.status));
client.on('tick', (n) => r.ticks.push(n));
client.subscribe(() => { r.state = client.getSnapshot(); });
window.client = client;
`;

describe.skipIf(!chromiumPath)('a names-only page on the /sse entry in Chromium', () => {
  let server: TestServer;
  const hub = makeHub();
  /** Script paths the page requested, in order. */
  const scripts: string[] = [];
  let inputs: string[] = [];

  beforeAll(async () => {
    // Minified, as a production build is.
    const built = await buildPage(pageSource, { minify: true });
    inputs = [...built.inputs];
    server = await serve(hub, { extra: pageRoutes(PAGE, built.files, scripts) });
  });
  const browser = suiteBrowser(
    launchChromium,
    () => server?.kill(),
    () => hub.close(),
  );

  it('bundles no schema library, streams the named events natively, and loads the command code on the first command', async () => {
    expect(inputs.filter((i) => /zod|valibot|arktype|standard-schema/.test(i))).toEqual([]);
    const { tab, problems } = await openPage(browser(), `http://127.0.0.1:${server.port}/`);
    type R = { ticks: number[]; status: string[]; state: { tick: number; led: { on: boolean } } | null };
    const result = () => tab.evaluate(() => (window as unknown as { result: R }).result);
    await tab.waitForFunction(() => {
      const r = (window as unknown as { result?: R }).result;
      return r?.status.includes('open') && r.state;
    });
    for (let i = 1; i <= 3; i++) await tick(hub, i);
    await hub.publish('led', { on: true });
    await tab.waitForFunction(() => (window as unknown as { result: R }).result.state?.led.on === true);
    expect((await result()).ticks).toEqual([1, 2, 3]);
    expect((await result()).state).toEqual(hub.state);
    // Native EventSource: neither the fetch-mode reader nor the command code was loaded.
    const loadedBefore = [...scripts];
    expect(loadedBefore.filter((s) => s.startsWith('/sse-fetch') || s.startsWith('/http'))).toEqual([]);

    const sent = await tab.evaluate(() =>
      (window as unknown as { client: { command(n: string, i: unknown): Promise<unknown> } }).client.command('led', {
        state: 'toggle',
      }),
    );
    expect(sent).toEqual({ on: false });
    expect(scripts.filter((s) => s.startsWith('/http'))).toHaveLength(1);
    expect(problems).toEqual([]);
    await tab.close();
  });
});
