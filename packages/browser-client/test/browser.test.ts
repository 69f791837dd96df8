import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath, type LaunchedBrowser, launchChromium } from '../../../test-support/system.js';
import { makeHub, serve, type TestServer, tick } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const coreSrc = fileURLToPath(new URL('../../core/src/index.ts', import.meta.url));

/** The browser bundle, built from src right here: no prior `pnpm build` needed. */
async function bundle(): Promise<string> {
  const result = await build({
    stdin: {
      contents: `export { connect } from './src/index.ts'; export { defineContract, typed } from '@boardcast/core';`,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    alias: { '@boardcast/core': coreSrc },
    logLevel: 'silent',
  });
  const text = result.outputFiles[0]?.text ?? '';
  if (/from\s*["']node:|require\(["']node:/.test(text)) throw new Error('the browser bundle imports a Node module');
  return text;
}

/**
 * `launchChromium()`, falling back to a plain launch with the same flags:
 * the playwright-core installed here refuses the `--user-data-dir` argument
 * that test-support passes (it wants launchPersistentContext instead).
 */
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

const page = `<!doctype html><meta charset="utf-8"><title>boardcast</title>
<script type="module">
import * as bc from '/bundle.js';
const contract = bc.defineContract({
  events: { led: bc.typed(), pin_change: bc.typed(), tick: bc.typed() },
  commands: { led: { input: bc.typed(), result: bc.typed() } },
  state: bc.typed(),
});
window.results = {};
window.start = (transport) => {
  const r = (window.results[transport] = { ticks: [], status: [], state: null, command: null });
  const client = bc.connect('/api', contract, { transport });
  client.onStatus((s) => r.status.push(s.status));
  client.on('tick', (n) => r.ticks.push(n));
  client.subscribe(() => { r.state = client.getSnapshot(); });
  window[transport] = client;
};
window.ready = true;
</script>`;

describe.skipIf(!chromiumPath)('built bundle in real Chromium', () => {
  let browser: LaunchedBrowser;
  let server: TestServer;
  const hub = makeHub();

  beforeAll(async () => {
    const js = await bundle();
    server = await serve(hub, {
      extra(req, res) {
        if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(page);
        else if (req.url === '/bundle.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
        else return false;
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

  it('receives events over SSE (native EventSource) and WebSocket, and sends a command', async () => {
    const tab = await browser.browser.newPage();
    const problems: string[] = [];
    tab.on('pageerror', (e) => problems.push(String(e)));
    await tab.goto(`http://127.0.0.1:${server.port}/`);
    await tab.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    await tab.evaluate(() => {
      const w = window as unknown as { start(t: string): void };
      w.start('sse');
      w.start('ws');
    });
    type R = { ticks: number[]; status: string[]; state: { tick: number; led: { on: boolean } } | null };
    const results = () => tab.evaluate(() => (window as unknown as { results: Record<string, R> }).results);
    await tab.waitForFunction(() => {
      const r = (window as unknown as { results: Record<string, R> }).results;
      return r.sse?.status.includes('open') && r.ws?.status.includes('open') && r.sse.state && r.ws.state;
    });
    for (let i = 1; i <= 5; i++) await tick(hub, i);
    await tab.waitForFunction(() => {
      const r = (window as unknown as { results: Record<string, R> }).results;
      return r.sse?.ticks.length === 5 && r.ws?.ticks.length === 5;
    });
    const sent = await tab.evaluate(async () => {
      const w = window as unknown as Record<string, { command(n: string, i: unknown): Promise<unknown> }>;
      return [await w.sse?.command('led', { state: 'on' }), await w.ws?.command('led', { state: 'toggle' })];
    });
    expect(sent).toEqual([{ on: true }, { on: false }]);
    const r = await results();
    expect(r.sse?.ticks).toEqual([1, 2, 3, 4, 5]);
    expect(r.ws?.ticks).toEqual([1, 2, 3, 4, 5]);
    expect(r.sse?.state?.tick).toBe(5);
    expect(r.ws?.state?.tick).toBe(5);
    expect(problems).toEqual([]);
    await tab.close();
  });
});
