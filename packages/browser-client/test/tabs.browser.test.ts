import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';
import { makeHub, serve, type TestServer } from './helpers.js';
import { pageBundle } from './page-bundle.js';
import { launchDemoChromium } from './tab-server.js';

/**
 * Every tab live: ten tabs of one page over HTTP/1.1 on a plain-http LAN
 * name (`demo.test`, not a secure context: no `navigator.locks`), where
 * Chromium's six connections per host used to run out. The page counts the
 * streams it opens itself (EventSource / WebSocket wrapped), so the test
 * knows which tab leads.
 */
const script = `
import { connect } from '@boardcast/browser-client';
import { defineContract, typed } from '@boardcast/core';
const Native = { EventSource: window.EventSource, WebSocket: window.WebSocket };
window.streams = 0;
window.live = 0;
window.EventSource = class extends Native.EventSource {
  constructor(...a) { super(...a); window.streams++; window.live++; }
  close() { if (this.readyState !== 2) window.live--; super.close(); }
};
window.WebSocket = class extends Native.WebSocket {
  constructor(...a) { super(...a); window.streams++; window.live++; this.addEventListener('close', () => window.live--); }
};
const contract = defineContract({
  events: { led: typed(), tick: typed() },
  commands: { echo: { input: typed(), result: typed() } },
  state: typed(),
  reducers: { led: (s, led) => ({ ...s, led }), tick: (s, tick) => ({ ...s, tick }) },
});
const transport = new URLSearchParams(location.search).get('transport') || 'sse';
window.ticks = [];
window.arrivals = [];
window.status = [];
const token = new URLSearchParams(location.search).get('token');
window.client = connect('/api', contract, token ? { transport, headers: { authorization: 'Bearer ' + token } } : { transport });
window.client.on('tick', (n) => { window.ticks.push(n); window.arrivals.push(Date.now()); });
window.client.onStatus((s) => window.status.push(s.status));
window.secure = { secureContext: window.isSecureContext, locks: typeof navigator.locks };
`;

const page = '<!doctype html><meta charset="utf-8"><title>tab</title><script type="module" src="/bundle.js"></script>';
const TABS = 10;

type Tab = import('puppeteer-core').Page;

describe.skipIf(!chromiumPath)('every tab live: one shared connection (Chromium, HTTP/1.1, non-secure name)', () => {
  let browser: import('puppeteer-core').Browser;
  let js: Map<string, string>;

  beforeAll(async () => {
    js = await pageBundle(script);
    browser = await launchDemoChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  async function start() {
    const hub = makeHub();
    const connects: number[] = [];
    const server: TestServer = await serve(hub, {
      http: { allowedHosts: ['demo.test'] },
      ws: { allowedHosts: ['demo.test'] },
      extra(req, res) {
        if (req.url?.startsWith('/?') || req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(page);
        else if (req.url && js.has(req.url)) {
          res.writeHead(200, { 'content-type': 'text/javascript' }).end(js.get(req.url));
        } else return false;
        return true;
      },
    });
    const open = new Set<object>();
    server.server.on('request', (req, res) => {
      if (!req.url?.startsWith('/api/events')) return;
      connects.push(Date.now());
      open.add(res);
      res.on('close', () => open.delete(res));
    });
    server.server.on('upgrade', (_req, socket) => {
      connects.push(Date.now());
      open.add(socket);
      socket.on('close', () => open.delete(socket));
    });
    return { hub, server, connects, open };
  }

  const ticksOf = (tab: Tab) => tab.evaluate('window.ticks') as Promise<number[]>;
  /** The leader is the tab whose own stream is open. */
  async function leaderOf(tabs: Tab[]): Promise<Tab> {
    const live = await Promise.all(tabs.map((t) => t.evaluate('window.live') as Promise<number>));
    const leaders = tabs.filter((_, i) => live[i] === 1);
    if (leaders.length !== 1) throw new Error(`expected one leader, open streams per tab: ${live.join(',')}`);
    return leaders[0] as Tab;
  }
  /** Every tab holds 1..n exactly once, in order. */
  const consecutive = (ticks: number[], n: number) => ticks.length === n && ticks.every((t, i) => t === i + 1);

  for (const transport of ['sse', 'ws'] as const) {
    it(`${transport}: ${TABS} tabs all live over one stream; the leader closes, then freezes: another takes over, nothing lost`, async () => {
      const { hub, server, connects, open } = await start();
      const context = await browser.createBrowserContext();
      try {
        const tabs: Tab[] = [];
        for (let i = 0; i < TABS; i++) {
          const tab = await context.newPage();
          await tab.goto(`http://demo.test:${server.port}/?transport=${transport}`);
          tabs.push(tab);
        }
        expect(await tabs[0]?.evaluate('window.secure')).toEqual({ secureContext: false, locks: 'undefined' });
        for (const tab of tabs) {
          await waitFor(async () => (await tab.evaluate('window.client.state')) !== undefined, 'snapshot', 20_000);
        }
        // One stream for all ten. (On a loaded machine a tab may claim before the leader's answer
        // reaches it; the two leaders then settle on one within a heartbeat.)
        await waitFor(() => open.size === 1, 'one open stream', 10_000);
        await waitFor(async () => (await leaderOf(tabs)) !== undefined, 'one leading tab', 10_000);
        const opened = connects.length;

        let n = 0;
        const publish = async (count: number) => {
          for (let i = 0; i < count; i++) await hub.publish('tick', ++n);
        };
        await publish(5);
        for (const tab of tabs) await waitFor(async () => consecutive(await ticksOf(tab), 5), 'ticks 1..5', 10_000);

        // A command from every tab is answered.
        const answers = await Promise.all(tabs.map((tab, i) => tab.evaluate(`window.client.command('echo', ${i})`)));
        expect(answers).toEqual([...Array(TABS).keys()]);

        // The leader's tab closes while events keep coming.
        const first = await leaderOf(tabs);
        const closedAt = Date.now();
        let publishing = true;
        const pump = (async () => {
          while (publishing) {
            await publish(1);
            await new Promise((r) => setTimeout(r, 15));
          }
        })();
        await first.close();
        const left = tabs.filter((t) => t !== first);
        await waitFor(() => connects.length === opened + 1, 'a second stream', 10_000);
        const closeHandover = (connects[opened] as number) - closedAt;
        await new Promise((r) => setTimeout(r, 300));

        // Freeze the new leader (Page Lifecycle: frozen), as a browser does to a background tab.
        const second = await leaderOf(left);
        const cdp = await second.createCDPSession();
        const frozenAt = Date.now();
        await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
        await waitFor(() => connects.length === opened + 2, 'a third stream', 10_000);
        const freezeHandover = (connects[opened + 1] as number) - frozenAt;
        await new Promise((r) => setTimeout(r, 300));
        publishing = false;
        await pump;
        await cdp.send('Page.setWebLifecycleState', { state: 'active' });

        // Every remaining tab (the one that was frozen included, once awake) has every tick once, in order.
        for (const [i, tab] of left.entries()) {
          const woke = tab === second ? ' (the one that was frozen)' : '';
          await waitFor(
            async () => consecutive(await ticksOf(tab), n),
            `ticks 1..${n} in tab ${i}${woke}`,
            15_000,
          ).catch(async (error) => {
            throw new Error(`${error.message}: ${JSON.stringify(await ticksOf(tab))}`);
          });
        }
        const third = await leaderOf(left.filter((t) => t !== second));
        expect(third).not.toBe(second);
        expect(open.size).toBe(1);
        // Commands still answered from every tab, the woken one included.
        const again = await Promise.all(left.map((tab, i) => tab.evaluate(`window.client.command('echo', ${i})`)));
        expect(again).toEqual([...Array(left.length).keys()]);
        console.info(
          `[tabs ${transport}] hand-over after close ${closeHandover} ms, after freeze ${freezeHandover} ms; ${n} ticks, ${left.length} tabs`,
        );
      } finally {
        await context.close().catch(() => undefined);
        await server.kill();
        await hub.close();
      }
    }, 120_000);
  }

  it('tabs with another credential never share: one stream per token, each with its own Authorization', async () => {
    const { hub, server, connects } = await start();
    const seen: (string | undefined)[] = [];
    server.server.on('request', (req) => {
      if (req.url?.startsWith('/api/events')) seen.push(req.headers.authorization);
    });
    const context = await browser.createBrowserContext();
    try {
      const tabs: Tab[] = [];
      for (const token of ['alice', 'alice', 'bob']) {
        const tab = await context.newPage();
        await tab.goto(`http://demo.test:${server.port}/?token=${token}`);
        await waitFor(async () => (await tab.evaluate('window.client.state')) !== undefined, 'snapshot', 20_000);
        tabs.push(tab);
      }
      await waitFor(() => connects.length === 2, 'two streams', 10_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(connects).toHaveLength(2);
      expect(seen.sort()).toEqual(['Bearer alice', 'Bearer bob']);
      await hub.publish('tick', 1);
      for (const tab of tabs) await waitFor(async () => consecutive(await ticksOf(tab), 1), 'the tick', 10_000);
    } finally {
      await context.close().catch(() => undefined);
      await server.kill();
      await hub.close();
    }
  }, 60_000);
});
