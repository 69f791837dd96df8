/**
 * Tabs sharing one connection, measured: publish → page latency with 10
 * tabs against 1 tab, the streams the server holds, and the leader hand-over
 * time (tab closed, or frozen through CDP Page.setWebLifecycleState). In the
 * test run it is a short functional pass (a few events, 3 hand-overs: every
 * tab gets every event once); with BOARDCAST_MEASURE=1 it is the measurement
 * (200 events, 20 hand-overs of each kind) and prints p50/p99 — timing is
 * reported, never asserted:
 *   BOARDCAST_MEASURE=1 pnpm exec vitest run --project browser-client test/tabs-latency.browser.test.ts
 */
import { describe, expect, it } from 'vitest';
import { chromiumPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';
import { makeHub } from './helpers.js';
import { COUNT_STREAMS, demoChromium, leaderOf, tabServer } from './tab-server.js';

const MEASURE = process.env.BOARDCAST_MEASURE === '1';
const EVENTS = MEASURE ? 200 : 20;
const HANDOVERS = MEASURE ? 20 : 3;

const script = `
import { connect } from '@boardcast/browser-client';
import { defineContract, typed } from '@boardcast/core';
${COUNT_STREAMS}
const contract = defineContract({
  events: { led: typed(), pin_change: typed(), tick: typed() },
  commands: {},
  state: typed(),
  reducers: { tick: (s, tick) => ({ ...s, tick }) },
});
window.ticks = [];
window.latency = [];
const out = document.body.appendChild(document.createElement('p'));
const client = connect('/api', contract, { share: new URLSearchParams(location.search).get('share') !== 'off' });
client.on('pin_change', ({ pin, value }) => {
  out.textContent = pin;
  window.latency.push(Date.now() - value);
  window.ticks.push(pin);
});
window.client = client;
`;

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

type Tab = import('puppeteer-core').Page;

describe.skipIf(!chromiumPath)('tabs sharing one connection, measured (Chromium, HTTP/1.1, demo.test)', () => {
  const env = demoChromium(script);

  async function setup() {
    const hub = makeHub();
    const server = await tabServer(hub, env.js, { allowedHosts: ['demo.test'] });
    const context = await env.browser.createBrowserContext();
    const open = async (query = '', timeout = 30_000) => {
      const tab = await context.newPage();
      await tab.goto(`http://demo.test:${server.port}/${query}`, { timeout });
      await waitFor(async () => (await tab.evaluate('window.client.state')) !== undefined, 'snapshot', 20_000);
      return tab;
    };
    return {
      hub,
      connects: server.connects,
      open,
      async close() {
        await context.close().catch(() => undefined);
        await server.close();
      },
    };
  }

  /** Publish EVENTS events 20 ms apart, each carrying its send time; every tab must get all. */
  async function latency(env: Awaited<ReturnType<typeof setup>>, tabs: Tab[]): Promise<number[]> {
    for (let i = 0; i < EVENTS; i++) {
      await env.hub.publish('pin_change', { pin: String(i), value: Date.now() as 0 | 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const all: number[] = [];
    for (const tab of tabs) {
      await waitFor(async () => (await tab.evaluate('window.ticks.length')) === EVENTS, 'every event', 20_000);
      expect(await tab.evaluate('window.ticks')).toEqual([...Array(EVENTS).keys()].map(String));
      all.push(...((await tab.evaluate('window.latency')) as number[]));
    }
    return all;
  }

  it('publish → page latency, 1 tab vs 10 sharing tabs (and, measuring, 10 with share: false)', async () => {
    const figures: string[] = [];
    for (const [label, count, query] of [
      ['1 tab', 1, ''],
      ['10 sharing tabs', 10, ''],
      // The fault being fixed: six streams fill Chromium's HTTP/1.1 connections to the host.
      ...(MEASURE ? ([['10 tabs with share: false', 10, '?share=off']] as const) : []),
    ] as const) {
      const env = await setup();
      try {
        const tabs: Tab[] = [];
        for (let i = 0; i < count; i++) {
          try {
            tabs.push(await env.open(query, query ? 8000 : 30_000));
          } catch {
            break;
          }
        }
        const streams = env.connects.length;
        if (query === '') expect(tabs).toHaveLength(count);
        if (query === '') expect(streams).toBe(1);
        const values = await latency(env, tabs);
        figures.push(
          `${label}: ${tabs.length} of ${count} tabs loaded, ${streams} server stream(s), latency p50 ${pct(values, 50)} ms, p99 ${pct(values, 99)} ms`,
        );
      } finally {
        await env.close();
      }
    }
    console.info(`[tabs latency, ${EVENTS} events] ${figures.join('; ')}`);
  }, 300_000);

  it(`leader hand-over, ${HANDOVERS} times each: tab closed, tab frozen`, async () => {
    const env = await setup();
    try {
      const tabs: Tab[] = [];
      for (let i = 0; i < 10; i++) tabs.push(await env.open());
      const closed: number[] = [];
      const frozen: number[] = [];
      for (let run = 0; run < HANDOVERS * 2; run++) {
        const before = env.connects.length;
        const current = await leaderOf(tabs);
        const start = Date.now();
        if (run % 2 === 0) {
          await current.close();
          tabs.splice(tabs.indexOf(current), 1);
          tabs.push(await env.open());
          await waitFor(() => env.connects.length > before, 'a new stream', 10_000);
          closed.push((env.connects[before] as number) - start);
        } else {
          const cdp = await current.createCDPSession();
          await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
          await waitFor(() => env.connects.length > before, 'a new stream', 10_000);
          frozen.push((env.connects[before] as number) - start);
          await cdp.send('Page.setWebLifecycleState', { state: 'active' });
          await current.close();
          tabs.splice(tabs.indexOf(current), 1);
          tabs.push(await env.open());
        }
      }
      console.info(
        `[tabs hand-over, ${HANDOVERS} runs each] closed: p50 ${pct(closed, 50)} ms, p99 ${pct(closed, 99)} ms; frozen: p50 ${pct(frozen, 50)} ms, p99 ${pct(frozen, 99)} ms`,
      );
      expect(closed).toHaveLength(HANDOVERS);
      expect(frozen).toHaveLength(HANDOVERS);
    } finally {
      await env.close();
    }
  }, 600_000);
});
