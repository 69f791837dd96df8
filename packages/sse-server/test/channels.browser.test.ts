import { createServer } from 'node:http';
import { accessTable, createHub, defineContract, typed } from '@boardcast/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath } from '../../../test-support/system.js';
import { type BoardcastHttp, boardcastHttp } from '../src/index.js';
import { listen, type TestServer, waitFor } from './helpers.js';

const contract = defineContract({
  events: { tick: typed<number>() },
  commands: {},
  state: typed<{ ticks: number; last: number }>(),
  reducers: { tick: (state, n) => ({ ticks: state.ticks + 1, last: n }) },
});

/**
 * The page keeps one mirror per channel, folded from a native EventSource
 * exactly as the wire says, and records every event id it folds. Changing
 * the set: it stops applying the old source's frames at the id it holds,
 * opens a new source from it (`fresh` = the added channel) and closes the
 * old one. The browser then reconnects that source by itself, with
 * Last-Event-ID, to the same URL.
 */
const page = `<!doctype html><meta charset="utf-8"><script>
  window.mirror = {};
  window.folded = [];
  window.position = '';
  window.opens = 0;
  let current;
  function follow(url) {
    const source = new EventSource(url);
    current = source;
    source.onopen = () => window.opens++;
    const live = (handler) => (message) => { if (current === source) handler(message, JSON.parse(message.data)); };
    source.addEventListener('snapshot', live((m, d) => { window.mirror[d.channel] = d.state; if (m.lastEventId) window.position = m.lastEventId; }));
    source.addEventListener('tick', live((m, d) => {
      const state = window.mirror[d.channel];
      if (!state) throw new Error('tick before snapshot');
      window.mirror[d.channel] = { ticks: state.ticks + 1, last: d.data };
      window.folded.push(m.lastEventId);
      window.position = m.lastEventId;
    }));
    return source;
  }
  window.start = () => { follow('/api/events?channels=board-1'); };
  window.addQuiet = () => {
    const old = current;
    follow('/api/events?channels=board-1,board-2&fresh=board-2&lastEventId=' + encodeURIComponent(window.position));
    old.close();
  };
</script>`;

describe.skipIf(!chromiumPath)('channels in Chromium, native EventSource', () => {
  let server: TestServer;
  let api: BoardcastHttp;
  const hub = createHub(contract, {
    state: { ticks: 0, last: 0 },
    access: accessTable({ '*': { see: ['board-*'] } }),
  });
  let browser: import('playwright-core').Browser | undefined;

  beforeAll(async () => {
    api = boardcastHttp(hub, { base: '/api', sse: { retry: 100 } });
    server = await listen(
      createServer((req, res) => {
        if (api.matches(new URL(req.url ?? '/', 'http://x').pathname)) return api.node(req, res);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(page);
      }),
    );
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: chromiumPath, args: CHROMIUM_ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await hub.close();
    await server?.close();
  });

  it('a quiet channel added after a busy one, then a reconnect with Last-Event-ID: nothing folded twice', async () => {
    const busy = hub.channel('board-1');
    const quiet = hub.channel('board-2');
    await quiet.publish('tick', 1);
    for (let i = 0; i < 10; i++) await busy.publish('tick', i);
    const tab = await (browser as import('playwright-core').Browser).newPage();
    await tab.goto(`${server.url}/`);
    await tab.evaluate('window.start()');
    await waitFor(async () => (await tab.evaluate('window.mirror["board-1"]?.last')) === 9, 'board-1 snapshot');
    for (let i = 10; i < 20; i++) await busy.publish('tick', i);
    await waitFor(async () => (await tab.evaluate('window.mirror["board-1"]?.last')) === 19, 'board-1 live');

    // Busy events keep coming while the page switches streams.
    const background = (async () => {
      for (let i = 20; i < 60; i++) {
        await busy.publish('tick', i);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    await tab.evaluate('window.addQuiet()');
    await waitFor(async () => (await tab.evaluate('window.mirror["board-2"]?.last')) === 1, 'board-2 snapshot');
    await background;
    await waitFor(async () => (await tab.evaluate('window.mirror["board-1"]?.last')) === 59, 'board-1 caught up');
    await quiet.publish('tick', 2);
    await waitFor(async () => (await tab.evaluate('window.mirror["board-2"]?.last')) === 2, 'board-2 live');

    // The link drops: the browser reconnects by itself with Last-Event-ID.
    const opens = (await tab.evaluate('window.opens')) as number;
    for (const socket of server.sockets) socket.destroy();
    for (let i = 60; i < 70; i++) await busy.publish('tick', i);
    await quiet.publish('tick', 3);
    await waitFor(async () => ((await tab.evaluate('window.opens')) as number) > opens, 'the browser reconnected');
    await waitFor(
      async () =>
        (await tab.evaluate('window.mirror["board-1"]?.last')) === 69 &&
        (await tab.evaluate('window.mirror["board-2"]?.last')) === 3,
      'both caught up after the reconnect',
    );
    const folded = (await tab.evaluate('window.folded')) as string[];
    expect(new Set(folded).size).toBe(folded.length);
    expect(await tab.evaluate('window.mirror["board-1"]')).toEqual(busy.state);
    expect(await tab.evaluate('window.mirror["board-2"]')).toEqual(quiet.state);
    await tab.close();
  });
});
