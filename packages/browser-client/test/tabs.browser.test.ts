import { describe, expect, it } from 'vitest';
import { chromiumPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';
import { makeHub } from './helpers.js';
import { demoChromium, everyTickOnce, leaderOf, oneLeader, pump, TICKS_SCRIPT, tabServer } from './tab-server.js';

/**
 * Every tab live: ten tabs of one page over HTTP/1.1 on a plain-http LAN
 * name (`demo.test`, not a secure context: no `navigator.locks`), where
 * Chromium's six connections per host used to run out. The page
 * (TICKS_SCRIPT) counts the streams it opens itself (EventSource /
 * WebSocket wrapped), so the test knows which tab leads.
 */
const TABS = 10;

type Tab = import('puppeteer-core').Page;

describe.skipIf(!chromiumPath)('every tab live: one shared connection (Chromium, HTTP/1.1, non-secure name)', () => {
  const env = demoChromium(TICKS_SCRIPT);

  async function start() {
    const hub = makeHub();
    return { hub, ...(await tabServer(hub, env.js, { allowedHosts: ['demo.test'] })) };
  }

  for (const transport of ['sse', 'ws'] as const) {
    it(`${transport}: ${TABS} tabs all live over one stream; the leader closes, then freezes: another takes over, nothing lost`, async () => {
      const { hub, port, connects, open, close } = await start();
      const context = await env.browser.createBrowserContext();
      try {
        const tabs: Tab[] = [];
        for (let i = 0; i < TABS; i++) {
          const tab = await context.newPage();
          await tab.goto(`http://demo.test:${port}/?transport=${transport}`);
          tabs.push(tab);
        }
        expect(await tabs[0]?.evaluate('window.secure')).toEqual({ secureContext: false, locks: 'undefined' });
        for (const tab of tabs) {
          await waitFor(async () => (await tab.evaluate('window.client.state')) !== undefined, 'snapshot', 20_000);
        }
        // One stream for all ten. (On a loaded machine a tab may claim before the leader's answer
        // reaches it; the two leaders then settle on one within a heartbeat.)
        await waitFor(() => open.size === 1, 'one open stream', 10_000);
        await oneLeader(tabs, 'one leading tab');
        const opened = connects.length;

        let n = 0;
        const publish = async (count: number) => {
          for (let i = 0; i < count; i++) await hub.publish('tick', ++n);
        };
        await publish(5);
        await everyTickOnce(tabs, 5);

        // A command from every tab is answered.
        const answers = await Promise.all(tabs.map((tab, i) => tab.evaluate(`window.client.command('echo', ${i})`)));
        expect(answers).toEqual([...Array(TABS).keys()]);

        // The leader's tab closes while events keep coming.
        const first = await leaderOf(tabs);
        const closedAt = Date.now();
        const pumping = pump(() => publish(1), 15);
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
        await pumping.stop();
        await cdp.send('Page.setWebLifecycleState', { state: 'active' });

        // Every remaining tab (the one that was frozen included, once awake) has every tick once, in order.
        await everyTickOnce(left, n, (i) => `tab ${i}${left[i] === second ? ' (the one that was frozen)' : ''}`);
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
        await close();
      }
    }, 120_000);
  }

  it('tabs with another credential never share: one stream per token, each with its own Authorization', async () => {
    const { hub, port, server, connects, close } = await start();
    const seen: (string | undefined)[] = [];
    server.on('request', (req) => {
      if (req.url?.startsWith('/api/events')) seen.push(req.headers.authorization);
    });
    const context = await env.browser.createBrowserContext();
    try {
      const tabs: Tab[] = [];
      for (const token of ['alice', 'alice', 'bob']) {
        const tab = await context.newPage();
        await tab.goto(`http://demo.test:${port}/?token=${token}`);
        await waitFor(async () => (await tab.evaluate('window.client.state')) !== undefined, 'snapshot', 20_000);
        tabs.push(tab);
      }
      await waitFor(() => connects.length === 2, 'two streams', 10_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(connects).toHaveLength(2);
      expect(seen.sort()).toEqual(['Bearer alice', 'Bearer bob']);
      await hub.publish('tick', 1);
      await everyTickOnce(tabs, 1);
    } finally {
      await context.close().catch(() => undefined);
      await close();
    }
  }, 60_000);
});
