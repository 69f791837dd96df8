import { accessTable, createHub } from '@boardcast/core';
import { describe, expect, it } from 'vitest';
import { chromiumPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';
import { fleet } from './fleet.js';
import { COUNT_STREAMS, demoChromium, leaderOf, oneLeader, pump, tabServer } from './tab-server.js';

/**
 * Every tab live with channels: tabs of one page, each with its own channel
 * set, share one connection that carries the union of the sets, on a
 * plain-http LAN name (`demo.test`: no `navigator.locks`). Each tab logs
 * every snapshot and `add` event of its channels; a channel's `add` data is
 * its own count after the fold, so a lost or doubled event shows as a gap
 * or a repeat, and a snapshot must stand where the events left off.
 */
const script = `
import { connectChannels } from '@boardcast/browser-client/channels';
${COUNT_STREAMS}
const params = new URLSearchParams(location.search);
const reducers = {
  add: (s, x) => ({ ...s, sum: s.sum + x, n: s.n + 1 }),
  led: (s, { on }) => ({ ...s, on }),
};
window.client = connectChannels('/api', { events: { add: 1, led: 1 }, reducers }, {
  transport: params.get('transport'),
  channels: params.get('set').split(','),
  reconnect: { initialDelayMs: 100, maxDelayMs: 400 },
});
window.log = [];
window.client.on('snapshot', (channel, state) => window.log.push(['snapshot', channel, state.n]));
window.client.on('event', (channel, name, data) => { if (name === 'add') window.log.push(['add', channel, data]); });
window.client.on('reset', (channel, reason) => window.log.push(['reset', channel, reason]));
window.client.onStatus((s) => window.log.push(['status', s.status, s.error?.code]));
`;

type Tab = import('puppeteer-core').Page;
type Entry = ['snapshot' | 'add' | 'reset' | 'status', string, number];

/**
 * Problems in one tab's log: per channel, each `add` is the previous count
 * plus one, each snapshot stands at the count the events reached (or is the
 * first), and the last count is the hub's. Channels outside `mine` must not
 * appear.
 */
function check(log: Entry[], mine: (channel: string) => boolean, counts: Map<string, number>): string[] {
  const at = new Map<string, number>();
  const problems: string[] = [];
  for (const [kind, channel, n] of log) {
    if (kind !== 'snapshot' && kind !== 'add') continue;
    if (!mine(channel)) {
      problems.push(`${kind} of ${channel}, not in the set`);
      continue;
    }
    const before = at.get(channel);
    if (kind === 'add' && before !== undefined && n !== before + 1)
      problems.push(`${channel}: add ${n} after ${before}`);
    if (kind === 'add' && before === undefined) problems.push(`${channel}: add ${n} before any snapshot`);
    if (kind === 'snapshot' && before !== undefined && n !== before)
      problems.push(`${channel}: snapshot at ${n} after ${before}`);
    at.set(channel, n);
  }
  for (const [channel, n] of counts)
    if (mine(channel) && at.get(channel) !== n) problems.push(`${channel}: at ${at.get(channel)}, hub at ${n}`);
  return problems;
}

describe.skipIf(!chromiumPath)(
  'every tab live with channels: one connection carries the union (Chromium, HTTP/1.1, non-secure name)',
  () => {
    const env = demoChromium(script);

    async function start() {
      const hub = createHub(fleet, {
        state: { sum: 0, n: 0, on: false },
        access: accessTable({ '*': { see: ['*'], control: ['*'] } }),
      });
      hub.handle('led', async ({ on }, { channel }) => {
        await hub.channel(channel).publish('led', { on });
        return { on };
      });
      const { port, open, streams, close } = await tabServer(hub, env.js, { allowedHosts: ['demo.test'] });
      return { hub, port, streams, open, close };
    }

    for (const transport of ['sse', 'ws'] as const) {
      it(`${transport}: tabs with different sets share one stream; a set grows; the leader closes, then freezes: nothing lost or doubled in any tab`, async () => {
        const { hub, port, streams, open, close } = await start();
        const counts = new Map<string, number>();
        const publish = async (channel: string) => {
          const n = (counts.get(channel) ?? 0) + 1;
          counts.set(channel, n);
          await hub.channel(channel).publish('add', n);
        };
        for (const channel of ['a', 'b', 'c', 'p:1', 'p:2', 'e', 'zz']) await publish(channel);
        const sets = [['a'], ['b'], ['a', 'c'], ['p:*'], ['b', 'p:1']];
        const context = await env.browser.createBrowserContext();
        let pumping: ReturnType<typeof pump> | undefined;
        try {
          const tabs: Tab[] = [];
          const held: string[][] = [];
          for (const set of sets) {
            const tab = await context.newPage();
            await tab.goto(`http://demo.test:${port}/?transport=${transport}&set=${set.join(',')}`);
            tabs.push(tab);
            held.push([...set]);
          }
          const mine = (i: number) => (channel: string) =>
            (held[i] as string[]).some((e) => e === channel || (e.endsWith('*') && channel.startsWith(e.slice(0, -1))));
          const ready = async (i: number) => {
            const log = (await (tabs[i] as Tab).evaluate('window.log')) as Entry[];
            const want = [...counts.keys()].filter(mine(i));
            return want.every((c) => log.some(([kind, channel]) => kind === 'snapshot' && channel === c));
          };
          for (const i of tabs.keys()) await waitFor(() => ready(i), `snapshots in tab ${i}`, 20_000);
          await waitFor(() => open.size === 1, 'one open stream', 10_000);

          const order = ['a', 'b', 'c', 'p:1', 'p:2', 'e', 'zz'];
          let k = 0;
          pumping = pump(() => publish(order[k++ % order.length] as string), 5);

          // The union grows (e is new to it) and a tab adds a channel the union holds (c): no stream is lost.
          await (tabs[0] as Tab).evaluate(`window.client.subscribe('e')`);
          held[0]?.push('e');
          await (tabs[1] as Tab).evaluate(`window.client.subscribe('c')`);
          held[1]?.push('c');
          await waitFor(() => ready(0), 'e in tab 0', 10_000);
          await waitFor(() => ready(1), 'c in tab 1', 10_000);

          // A command from every tab, on a channel of its own, is answered.
          const answers = await Promise.all(
            tabs.map((tab, i) =>
              tab.evaluate(`window.client.command('led', { on: true }, { channel: 'b' }).then((r) => [${i}, r.on])`),
            ),
          );
          expect(answers).toEqual(tabs.map((_, i) => [i, true]));

          const first = await leaderOf(tabs);
          await first.close();
          const left = tabs.filter((t) => t !== first);
          const leftHeld = held.filter((_, i) => tabs[i] !== first);
          await oneLeader(left, 'a new leader');
          await new Promise((r) => setTimeout(r, 300));
          const second = await leaderOf(left);
          const cdp = await second.createCDPSession();
          await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
          await oneLeader(
            left.filter((t) => t !== second),
            'a third leader',
          );
          await new Promise((r) => setTimeout(r, 300));
          await pumping?.stop();
          await cdp.send('Page.setWebLifecycleState', { state: 'active' });

          for (const [j, tab] of left.entries()) {
            const i = tabs.indexOf(tab);
            let problems: string[] = [];
            await waitFor(
              async () => {
                problems = check((await tab.evaluate('window.log')) as Entry[], mine(i), counts);
                return problems.length === 0;
              },
              `every event once, in order, in tab ${j} (set ${leftHeld[j]?.join(',')})`,
              15_000,
            ).catch(async (error) => {
              const log = (await tab.evaluate('window.log')) as Entry[];
              const channel = problems[0]?.split(':')[0] ?? '';
              const around = log.filter(([kind, c]) => c === channel || kind === 'status').slice(-14);
              throw new Error(`${error.message}: ${problems.slice(0, 8).join('; ')}; ${JSON.stringify(around)}`);
            });
          }
          await waitFor(() => open.size === 1, 'one open stream at the end', 10_000);
          console.info(
            `[tabs channels ${transport}] ${streams()} streams opened in all; ${[...counts.values()].reduce((a, b) => a + b)} events`,
          );
        } finally {
          await pumping?.stop().catch(() => undefined);
          await context.close().catch(() => undefined);
          await close();
        }
      }, 120_000);
    }
  },
);
