import { beforeAll, describe, expect, it } from 'vitest';
import { suiteBrowser } from '../../../test-support/suite-browser.js';
import { chromiumPath, launchChromium } from '../../../test-support/system.js';
import { startTcpProxy, type TcpProxy } from '../../../test-support/tcp-proxy.js';
import { makeHub, serve, type TestServer, tick } from './helpers.js';
import { openPage, pageBundle, pageRoutes } from './page-bundle.js';

/**
 * The browser bundle, built from src right here (no prior `pnpm build`
 * needed) and code-split like a page's bundler would: the fetch-mode SSE
 * reader is a separate chunk loaded by `import()`. Returns file name → code.
 */
async function bundle(): Promise<Map<string, string>> {
  const files = await pageBundle(
    `export { connect } from '@boardcast/browser-client'; export { defineContract, typed } from '@boardcast/core';`,
  );
  if (files.size < 2) throw new Error('expected the fetch-mode reader in its own chunk');
  return files;
}

const page = `<!doctype html><meta charset="utf-8"><title>boardcast</title>
<script type="module">
import * as bc from '/bundle.js';
const contract = bc.defineContract({
  events: { led: bc.typed(), pin_change: bc.typed(), tick: bc.typed() },
  commands: { led: { input: bc.typed(), result: bc.typed() } },
  state: bc.typed(),
  reducers: { led: (s, led) => ({ ...s, led }), tick: (s, tick) => ({ ...s, tick }) },
});
window.results = {};
window.bc = bc;
window.contract = contract;
window.start = (name) => {
  const r = (window.results[name] = { ticks: [], status: [], state: null, command: null });
  const options = name === 'sseFetch' ? { transport: 'sse', eventSource: 'fetch' } : { transport: name };
  const client = bc.connect('/api', contract, options);
  client.onStatus((s) => r.status.push(s.status));
  client.on('tick', (n) => r.ticks.push(n));
  client.subscribe(() => { r.state = client.getSnapshot(); });
  window[name] = client;
};
window.ready = true;
</script>`;

describe.skipIf(!chromiumPath)('built bundle in real Chromium', () => {
  let server: TestServer;
  const hub = makeHub();
  /** Script paths the page requested, in order. */
  const scripts: string[] = [];

  beforeAll(async () => {
    const js = await bundle();
    server = await serve(hub, { extra: pageRoutes(page, js, scripts) });
  });
  const browser = suiteBrowser(
    launchChromium,
    () => server?.kill(),
    () => hub.close(),
  );

  it('receives events over SSE (native EventSource, then fetch mode loaded on demand) and WebSocket, and sends commands', async () => {
    const { tab, problems } = await openPage(browser(), `http://127.0.0.1:${server.port}/`);
    await tab.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    type R = { ticks: number[]; status: string[]; state: { tick: number; led: { on: boolean } } | null };
    const opened = (names: string[]) =>
      tab.waitForFunction((list) => {
        const r = (window as unknown as { results: Record<string, R> }).results;
        return list.every((n) => r[n]?.status.includes('open') && r[n]?.state);
      }, names);
    const start = (names: string[]) =>
      tab.evaluate((list) => {
        for (const n of list) (window as unknown as { start(t: string): void }).start(n);
      }, names);
    await start(['sse', 'ws']);
    await opened(['sse', 'ws']);
    // The native path never asked for the fetch-mode reader (eventsource-parser).
    expect(scripts.filter((s) => s.startsWith('/sse-fetch'))).toEqual([]);
    await start(['sseFetch']);
    await opened(['sseFetch']);
    expect(scripts.filter((s) => s.startsWith('/sse-fetch'))).toHaveLength(1);

    const all = ['sse', 'ws', 'sseFetch'];
    for (let i = 1; i <= 5; i++) await tick(hub, i);
    await tab.waitForFunction((list) => {
      const r = (window as unknown as { results: Record<string, R> }).results;
      return list.every((n) => r[n]?.ticks.length === 5);
    }, all);
    const sent = await tab.evaluate(async () => {
      const w = window as unknown as Record<string, { command(n: string, i: unknown): Promise<unknown> }>;
      return [
        await w.sse?.command('led', { state: 'on' }),
        await w.ws?.command('led', { state: 'toggle' }),
        await w.sseFetch?.command('led', { state: 'on' }),
      ];
    });
    expect(sent).toEqual([{ on: true }, { on: false }, { on: true }]);
    const r = await tab.evaluate(() => (window as unknown as { results: Record<string, R> }).results);
    for (const name of all) {
      expect(r[name]?.ticks).toEqual([1, 2, 3, 4, 5]);
      expect(r[name]?.state?.tick).toBe(5);
    }
    expect(problems).toEqual([]);
    await tab.close();
  });
});

/**
 * The native EventSource path in Chromium: the `keepalive` frames are
 * events a page's EventSource sees, so a stream through a link that goes
 * silent (a real TCP proxy that stops forwarding, no FIN, no RST) is noticed
 * from the period the server announced, and the client resumes.
 */
describe.skipIf(!chromiumPath)('native EventSource in Chromium: a silent link', () => {
  let server: TestServer;
  let proxy: TcpProxy;
  const hub = makeHub();
  /** Resume ids the refusing stream saw (null: none). */
  const refusing: (string | null | undefined)[] = [];

  beforeAll(async () => {
    const routes = pageRoutes(page, await bundle());
    server = await serve(hub, {
      http: { sse: { keepAliveMs: 100 } },
      extra(req, res) {
        // A stream that refuses any resume id with a 400 (boardcast servers never do; proxies may).
        if (req.url?.startsWith('/refusing/events')) {
          const header = req.headers['last-event-id'] as string | undefined;
          refusing.push(header ?? new URL(req.url, 'http://x').searchParams.get('lastEventId'));
          if (refusing.at(-1)) {
            res.writeHead(400, { 'content-type': 'application/json' });
            res.end('{"error":{"code":"invalid_payload","message":"unknown id"}}');
          } else {
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            res.write(
              'event: keepalive\ndata: {"intervalMs":15000}\n\nid: r-1\nevent: snapshot\ndata: {"led":{"on":true},"tick":7,"pins":{}}\n\n',
            );
          }
          return true;
        }
        return routes(req, res);
      },
    });
    proxy = await startTcpProxy(server.port);
  });
  const browser = suiteBrowser(
    launchChromium,
    () => proxy?.close(),
    () => server?.kill(),
    () => hub.close(),
  );

  it('is noticed from the announced keep-alive period and resumed without loss', async () => {
    const { tab, problems } = await openPage(browser(), `http://127.0.0.1:${proxy.port}/`);
    await tab.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    type R = { ticks: number[]; status: string[]; state: unknown };
    const results = () => tab.evaluate(() => (window as unknown as { results: Record<string, R> }).results.sse);
    await tab.evaluate(() => (window as unknown as { start(t: string): void }).start('sse'));
    await tab.waitForFunction(() => {
      const r = (window as unknown as { results: Record<string, R> }).results.sse;
      return r?.status.includes('open') && r.state;
    });
    await tick(hub, 1);
    await tab.waitForFunction(
      () => (window as unknown as { results: Record<string, R> }).results.sse?.ticks.length === 1,
    );

    proxy.stall();
    // The client's own default period is 15 s: noticing within 10 s means it used the server's 100 ms.
    await tab.waitForFunction(
      () => (window as unknown as { results: Record<string, R> }).results.sse?.status.includes('reconnecting'),
      undefined,
      { timeout: 10_000 },
    );
    for (let i = 2; i <= 4; i++) await tick(hub, i);
    proxy.resume();
    await tab.waitForFunction(
      () => (window as unknown as { results: Record<string, R> }).results.sse?.ticks.length === 4,
      undefined,
      { timeout: 10_000 },
    );
    const r = await results();
    expect(r?.ticks).toEqual([1, 2, 3, 4]);
    expect(r?.status.at(-1)).toBe('open');
    expect(problems).toEqual([]);
    await tab.close();
  });

  it('a native stream refused for its resume id: the status probe reads the 400, the client comes back fresh', async () => {
    const tab = await browser().browser.newPage();
    await tab.goto(`http://127.0.0.1:${server.port}/`);
    await tab.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const seen = await tab.evaluate(async () => {
      type Client = {
        status: string;
        state: unknown;
        lastEventId: string | undefined;
        on(e: string, f: (x: unknown) => void): void;
        close(): void;
      };
      const w = window as unknown as {
        bc: { connect(url: string, contract: unknown, options: object): Client };
        contract: unknown;
      };
      const client = w.bc.connect('/refusing', w.contract, { lastEventId: 'stale-1' });
      const resets: unknown[] = [];
      const errors: unknown[] = [];
      client.on('reset', (r) => resets.push(r));
      client.on('error', (e) => errors.push((e as { code: string }).code));
      await new Promise<void>((resolve) => client.on('snapshot', () => resolve()));
      const result = { resets, errors, state: client.state, lastEventId: client.lastEventId };
      client.close();
      return result;
    });
    expect(seen.resets).toEqual(['resume_refused']);
    expect(seen.errors).toEqual(['invalid_payload']);
    expect(seen.state).toEqual({ led: { on: true }, tick: 7, pins: {} });
    expect(seen.lastEventId).toBe('r-1');
    // The native EventSource (id in the query), the probe (id in the header), then fresh.
    expect(refusing).toEqual(['stale-1', 'stale-1', null]);
    await tab.close();
  });
});
