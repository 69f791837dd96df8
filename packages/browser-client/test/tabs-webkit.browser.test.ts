import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, type Engine, type EnginePage, launchEngine } from '../../../test-support/engines.js';
import { waitFor } from '../../../test-support/wait.js';
import { makeHub } from './helpers.js';
import { pageBundle } from './page-bundle.js';
import { everyTickOnce, leaderOf, oneLeader, pump, TICKS_SCRIPT, tabServer } from './tab-server.js';

/**
 * Every tab live in WebKit (WebKitGTK's MiniBrowser through WebKitWebDriver):
 * tabs of one session share one connection over `BroadcastChannel`, and the
 * leader's tab closing hands over with nothing lost. The page is served on
 * this machine's LAN address when it has one, which is not a secure context
 * (no `navigator.locks`), as a board at `http://raspberrypi.local` is not.
 *
 * WebKit has no Page Lifecycle `freeze` event and no CDP
 * `Page.setWebLifecycleState`: a suspended WebKit tab (iOS puts background
 * tabs to sleep) says nothing, so the others take over after the leader's
 * heartbeat has been silent for 2.5 s, and the sleeper steps down when it
 * wakes and hears the newer leader (the same path as a crashed tab).
 */
const TABS = 4;

/** A non-loopback IPv4 address of this machine (not a secure context), else 127.0.0.1. */
const host =
  Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address ?? '127.0.0.1';

const webkit = ENGINES.find((e) => e.name === 'webkit');

describe.skipIf(!webkit?.available)('every tab live in WebKit: one shared connection, hand-over on close', () => {
  let engine: Engine;
  let js: Map<string, string>;

  beforeAll(async () => {
    js = await pageBundle(TICKS_SCRIPT);
    engine = await launchEngine('webkit');
  }, 120_000);
  afterAll(async () => {
    await engine?.close();
  });

  async function start() {
    const hub = makeHub();
    return { hub, ...(await tabServer(hub, js, { host })) };
  }

  it('a leader that stops running (4 s of blocked script, as a suspended tab) is replaced; when it wakes it steps down, nothing lost or doubled', async () => {
    const { hub, port, open, streams, close } = await start();
    const tabs: EnginePage[] = [];
    try {
      const first = await engine.newPage();
      tabs.push(first);
      for (let i = 1; i < 3; i++) tabs.push(await (first.newTab as () => Promise<EnginePage>)());
      for (const tab of tabs) await tab.goto(`http://${host}:${port}/?transport=sse`);
      for (const tab of tabs) {
        await waitFor(async () => (await tab.evaluate('window.client.state')) !== null, 'snapshot', 20_000);
      }
      const sleeper = await oneLeader(tabs);
      const opened = streams();
      let n = 0;
      const pumping = pump(() => hub.publish('tick', ++n), 20);
      await new Promise((r) => setTimeout(r, 200));
      await sleeper.evaluate('void setTimeout(() => { const t = Date.now(); while (Date.now() - t < 4000); }, 0)');
      await waitFor(() => streams() === opened + 1, 'another tab dials', 15_000);
      const others = tabs.filter((t) => t !== sleeper);
      // Once awake, the sleeper hears the newer leader and hangs up: one stream again.
      await waitFor(() => open.size === 1, 'the sleeper steps down', 15_000);
      await pumping.stop();
      await everyTickOnce(tabs, n, (i) => `tab ${i}${tabs[i] === sleeper ? ' (the sleeper)' : ''}`);
      expect(await leaderOf(tabs)).not.toBe(sleeper);
      expect(others).toContain(await leaderOf(tabs));
    } finally {
      for (const tab of tabs.reverse()) await tab.close().catch(() => undefined);
      await close();
    }
  }, 120_000);

  for (const transport of ['sse', 'ws'] as const) {
    it(`${transport}: ${TABS} tabs over one stream, commands from each; the leader's tab closes: another takes over, nothing lost`, async () => {
      const { hub, port, open, streams, close } = await start();
      const tabs: EnginePage[] = [];
      try {
        const first = await engine.newPage();
        tabs.push(first);
        for (let i = 1; i < TABS; i++) tabs.push(await (first.newTab as () => Promise<EnginePage>)());
        for (const tab of tabs) await tab.goto(`http://${host}:${port}/?transport=${transport}`);
        const secure = await first.evaluate('window.secure');
        if (host !== '127.0.0.1') expect(secure).toEqual({ secureContext: false, locks: 'undefined' });
        for (const tab of tabs) {
          await waitFor(async () => (await tab.evaluate('window.client.state')) !== null, 'snapshot', 20_000);
        }
        await waitFor(() => open.size === 1, 'one open stream', 10_000);
        await oneLeader(tabs);

        let n = 0;
        for (; n < 5; ) await hub.publish('tick', ++n);
        await everyTickOnce(tabs, 5);
        const answers: unknown[] = [];
        for (const [i, tab] of tabs.entries()) answers.push(await tab.evaluate(`window.client.command('echo', ${i})`));
        expect(answers).toEqual([...Array(TABS).keys()]);

        const leader = await leaderOf(tabs);
        const opened = streams();
        const pumping = pump(() => hub.publish('tick', ++n), 15);
        await leader.close();
        const left = tabs.filter((t) => t !== leader);
        await waitFor(() => streams() === opened + 1, 'a new stream', 10_000);
        await new Promise((r) => setTimeout(r, 300));
        await pumping.stop();
        await everyTickOnce(left, n);
        await waitFor(() => open.size === 1, 'one open stream after the hand-over', 10_000);
        await leaderOf(left);
        const again: unknown[] = [];
        for (const [i, tab] of left.entries()) again.push(await tab.evaluate(`window.client.command('echo', ${i})`));
        expect(again).toEqual([...Array(left.length).keys()]);
        tabs.splice(tabs.indexOf(leader), 1);
      } finally {
        for (const tab of tabs.reverse()) await tab.close().catch(() => undefined);
        await close();
      }
    }, 120_000);
  }
});
