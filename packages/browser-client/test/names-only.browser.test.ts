import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceAliases } from '../../../scripts/workspace-sources.mjs';
import { CHROMIUM_ARGS, chromiumPath, type LaunchedBrowser, launchChromium } from '../../../test-support/system.js';
import { makeHub, serve, type TestServer, tick } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));

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

async function bundle() {
  const result = await build({
    stdin: { contents: pageSource, resolveDir: root, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    splitting: true,
    metafile: true,
    outdir: join(root, 'names-only-bundle'), // never written
    entryNames: 'page',
    alias: sourceAliases,
    logLevel: 'silent',
  });
  const files = new Map<string, string>();
  for (const file of result.outputFiles) files.set(`/${basename(file.path)}`, file.text);
  return { files, inputs: Object.keys(result.metafile.inputs) };
}

async function launch(): Promise<LaunchedBrowser> {
  try {
    return await launchChromium();
  } catch (error) {
    if (!String(error).includes('userDataDir')) throw error;
    const { chromium } = await import('playwright-core');
    const instance = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
    return { browser: instance, close: () => instance.close().catch(() => undefined) };
  }
}

describe.skipIf(!chromiumPath)('a names-only page on the /sse entry in Chromium', () => {
  let browser: LaunchedBrowser;
  let server: TestServer;
  const hub = makeHub();
  /** Script paths the page requested, in order. */
  const scripts: string[] = [];
  let inputs: string[] = [];

  beforeAll(async () => {
    const built = await bundle();
    inputs = built.inputs;
    server = await serve(hub, {
      extra(req, res) {
        if (req.url === '/') {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>');
        } else if (req.url && built.files.has(req.url)) {
          scripts.push(req.url);
          res.writeHead(200, { 'content-type': 'text/javascript' }).end(built.files.get(req.url));
        } else return false;
        return true;
      },
    });
    browser = await launch();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.kill();
    await hub.close();
  });

  it('bundles no schema library, streams the named events natively, and loads the command code on the first command', async () => {
    expect(inputs.filter((i) => /zod|valibot|arktype|standard-schema/.test(i))).toEqual([]);
    const tab = await browser.browser.newPage();
    const problems: string[] = [];
    tab.on('pageerror', (e) => problems.push(String(e)));
    await tab.goto(`http://127.0.0.1:${server.port}/`);
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
