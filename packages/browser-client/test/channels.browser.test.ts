import { accessTable, type Contract, createHub } from '@boardcast/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { suiteBrowser } from '../../../test-support/suite-browser.js';
import { chromiumPath, launchChromium } from '../../../test-support/system.js';
import { channelServer } from './channel-server.js';
import { fleet } from './fleet.js';
import { openPage, PAGE, pageBundle, pageRoutes } from './page-bundle.js';

type Fleet = typeof fleet extends Contract<infer S> ? S : never;

/** The page: the /channels entry, the event names and reducers only, a native EventSource (no headers). */
const script = `
import { connectChannels } from '@boardcast/browser-client/channels';
const reducers = {
  add: (s, x) => ({ ...s, sum: s.sum + x, n: s.n + 1 }),
  led: (s, { on }) => ({ ...s, on }),
};
const client = connectChannels('/api', { events: { add: 1, led: 1 }, reducers }, {
  channels: ['busy'],
  reconnect: { initialDelayMs: 100, maxDelayMs: 400 },
});
window.client = client;
window.seen = [];
client.on('event', (channel, name, data, id) => window.seen.push([channel, name, data, id ?? null]));
`;

interface PageClient {
  lastEventId: string | undefined;
  status: string;
  subscribe(ids: string | string[]): void;
  channel(id: string): { state: unknown };
}
type PageWindow = { client: PageClient; seen: [string, string, unknown, string | null][] };

describe.skipIf(!chromiumPath)('channels in Chromium (native EventSource)', () => {
  let server: Awaited<ReturnType<typeof channelServer>>;
  const hub = createHub(fleet, { state: { sum: 0, n: 0, on: false }, access: accessTable({ '*': { see: ['*'] } }) });
  /** Stream requests as the server saw them. */
  const streams: { url: string; lastEventIdHeader: string | undefined; method: string }[] = [];

  beforeAll(async () => {
    const page = pageRoutes(PAGE, await pageBundle(script));
    server = await channelServer<Fleet>(hub, (req, res) => {
      if (page(req, res)) return true;
      if (req.url?.startsWith('/api/events')) {
        streams.push({
          url: req.url,
          lastEventIdHeader: req.headers['last-event-id'] as string | undefined,
          method: req.method ?? '',
        });
      }
      return false;
    });
  });
  const browser = suiteBrowser(
    launchChromium,
    () => server?.close(),
    () => hub.close(),
  );

  it('a quiet channel subscribed after a busy one, then a reconnect from the page’s Last-Event-ID: nothing folded twice', async () => {
    const busy = hub.channel('busy');
    const quiet = hub.channel('quiet');
    await quiet.publish('add', 100);
    const { tab, problems } = await openPage(browser(), `http://127.0.0.1:${server.port}/`);
    const state = (id: string) =>
      tab.evaluate((c) => (window as unknown as PageWindow).client.channel(c).state, id) as Promise<unknown>;
    const caughtUp = (id: string) =>
      tab.waitForFunction(
        ([c, want]) => JSON.stringify((window as unknown as PageWindow).client.channel(c as string).state) === want,
        [id, JSON.stringify(hub.channel(id).state)],
        { timeout: 20_000 },
      );
    await caughtUp('busy');
    for (let i = 0; i < 5; i++) await busy.publish('add', 1);
    await caughtUp('busy');
    // Newer than anything the page holds: the quiet snapshot carries it, and so must the page's id.
    await quiet.publish('add', 100);

    await tab.evaluate(() => (window as unknown as PageWindow).client.subscribe('quiet'));
    await caughtUp('quiet');
    // The snapshot of the quiet channel stands at the hub's head, and the page's id with it.
    expect(await tab.evaluate(() => (window as unknown as PageWindow).client.lastEventId)).toBe(hub.headId);
    await busy.publish('add', 1);
    await quiet.publish('add', 10);
    await caughtUp('busy');
    await caughtUp('quiet');

    const held = await tab.evaluate(() => (window as unknown as PageWindow).client.lastEventId);
    const before = streams.length;
    server.drop();
    await busy.publish('add', 1);
    await quiet.publish('add', 1000);
    await caughtUp('busy');
    await caughtUp('quiet');

    expect(await state('busy')).toEqual({ sum: 7, n: 7, on: false });
    expect(await state('quiet')).toEqual({ sum: 1210, n: 4, on: false });
    const seen = await tab.evaluate(() => (window as unknown as PageWindow).seen);
    expect(seen.filter(([c]) => c === 'busy').map(([, , d]) => d)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(seen.filter(([c]) => c === 'quiet').map(([, , d]) => d)).toEqual([10, 1000]);
    // The streams: the first, the switch (quiet fresh, resuming busy), the reconnect (both resumed from the held id).
    expect(streams.map((s) => s.method)).toEqual(['GET', 'GET', 'GET']);
    const switched = new URL(streams[1]?.url ?? '', 'http://x').searchParams;
    expect(switched.get('channels')).toBe('busy,quiet');
    expect(switched.get('fresh')).toBe('quiet');
    const resumed = new URL(streams[before]?.url ?? '', 'http://x').searchParams;
    expect(resumed.get('channels')).toBe('busy,quiet');
    expect(resumed.get('fresh')).toBeNull();
    expect(resumed.get('lastEventId')).toBe(held);
    expect(problems).toEqual([]);
    await tab.close();
  });
});
