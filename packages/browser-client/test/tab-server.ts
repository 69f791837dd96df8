import type { ContractSpec, Hub } from '@boardcast/core';
import { afterAll, beforeAll } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';
import { serve } from './helpers.js';
import { PAGE, pageBundle, pageRoutes } from './page-bundle.js';

/**
 * For tab-sharing tests: the start of a page script that counts the event
 * streams and sockets the page opens itself (`window.live` open now), so a
 * test knows which tab leads.
 */
export const COUNT_STREAMS = `
const Native = { EventSource: window.EventSource, WebSocket: window.WebSocket };
window.live = 0;
window.EventSource = class extends Native.EventSource {
  constructor(...a) { super(...a); window.live++; }
  close() { if (this.readyState !== 2) window.live--; super.close(); }
};
window.WebSocket = class extends Native.WebSocket {
  constructor(...a) { super(...a); window.live++; this.addEventListener('close', () => window.live--); }
};
`;

/**
 * The page of the tick tests (tabs.browser.test.ts, tabs-webkit.browser.test.ts):
 * a client over `?transport=` (default sse), with `?token=` as its Bearer
 * token when given; `window.ticks` holds the ticks it received, in order,
 * `window.secure` whether the page is a secure context and has `navigator.locks`.
 */
export const TICKS_SCRIPT = `
import { connect } from '@boardcast/browser-client';
import { defineContract, typed } from '@boardcast/core';
${COUNT_STREAMS}
const contract = defineContract({
  events: { led: typed(), tick: typed() },
  commands: { echo: { input: typed(), result: typed() } },
  state: typed(),
  reducers: { led: (s, led) => ({ ...s, led }), tick: (s, tick) => ({ ...s, tick }) },
});
const params = new URLSearchParams(location.search);
const transport = params.get('transport') || 'sse';
const token = params.get('token');
window.ticks = [];
window.client = connect('/api', contract, token ? { transport, headers: { authorization: 'Bearer ' + token } } : { transport });
window.client.on('tick', (n) => window.ticks.push(n));
window.secure = { secureContext: window.isSecureContext, locks: typeof navigator.locks };
`;

/**
 * sse-server and ws-server at /api on `host` (the names the pages use are
 * allowed: `allowedHosts`, default `[host]`), serving the page at `/` and
 * `/?…` and its bundle (`js`: pageBundle's files). Records when each event
 * stream or socket was opened (`connects`, Date.now() values, in order) and
 * holds those open now (`open`). `close()` stops the server, then the hub.
 */
export async function tabServer<C extends ContractSpec>(
  hub: Hub<C>,
  js: Map<string, string>,
  options: { host?: string; allowedHosts?: string[] } = {},
) {
  const host = options.host ?? '127.0.0.1';
  const allowedHosts = options.allowedHosts ?? [host];
  const served = await serve(hub, {
    host,
    http: { allowedHosts },
    ws: { allowedHosts },
    extra: pageRoutes(PAGE, js),
  });
  const open = new Set<object>();
  const connects: number[] = [];
  const opened = (connection: NodeJS.EventEmitter) => {
    connects.push(Date.now());
    open.add(connection);
    connection.on('close', () => open.delete(connection));
  };
  served.server.on('request', (req, res) => {
    if (req.url?.startsWith('/api/events')) opened(res);
  });
  served.server.on('upgrade', (_req, socket) => opened(socket));
  return {
    port: served.port,
    server: served.server,
    open,
    connects,
    /** Event streams and sockets opened so far. */
    streams: () => connects.length,
    async close() {
      await served.kill();
      await hub.close();
    },
  };
}

/**
 * Chromium through puppeteer-core, with `demo.test` resolving to 127.0.0.1:
 * a plain-http LAN-style name, not a secure context (no `navigator.locks`).
 * puppeteer-core, not playwright: Playwright keeps its pages visible (focus
 * emulation), and Chromium freezes only hidden pages, so
 * `Page.setWebLifecycleState` 'frozen' did nothing there.
 */
export async function launchDemoChromium(): Promise<import('puppeteer-core').Browser> {
  const { default: puppeteer } = await import('puppeteer-core');
  return puppeteer.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP demo.test 127.0.0.1'],
  });
}

/**
 * In the current describe: bundle `script` (pageBundle) and launch
 * {@link launchDemoChromium} before its tests, close the browser after.
 * `browser` and `js` are there once the tests run.
 */
export function demoChromium(script: string) {
  const env = {} as { browser: import('puppeteer-core').Browser; js: Map<string, string> };
  beforeAll(async () => {
    env.js = await pageBundle(script);
    env.browser = await launchDemoChromium();
  }, 60_000);
  afterAll(async () => {
    await env.browser?.close();
  });
  return env;
}

/** A tab of any engine: puppeteer's Page, or test-support/engines.ts's EnginePage. */
interface Evaluates {
  evaluate(expression: string): Promise<unknown>;
}

/**
 * The leading tab: the one whose own stream is open (`window.live` of
 * {@link COUNT_STREAMS} is 1). Throws unless exactly one leads. Asks the
 * tabs one at a time (a WebDriver session drives one window at a time).
 */
export async function leaderOf<T extends Evaluates>(tabs: readonly T[]): Promise<T> {
  const live: unknown[] = [];
  for (const tab of tabs) live.push(await tab.evaluate('window.live'));
  const leaders = tabs.filter((_, i) => live[i] === 1);
  if (leaders.length !== 1) throw new Error(`expected one leader, open streams per tab: ${live.join(',')}`);
  return leaders[0] as T;
}

/** Wait until exactly one of `tabs` leads; that tab. */
export const oneLeader = <T extends Evaluates>(tabs: readonly T[], what = 'one leader'): Promise<T> =>
  waitFor(() => leaderOf(tabs), what, 10_000);

/**
 * Wait until every tab's `window.ticks` is 1..n, each once, in order; on
 * timeout the error names the tab (`name(i)`) and shows its ticks.
 */
export async function everyTickOnce(
  tabs: readonly Evaluates[],
  n: number,
  name: (i: number) => string = (i) => `tab ${i}`,
  ms = 15_000,
): Promise<void> {
  const ticksOf = async (tab: Evaluates) => (await tab.evaluate('window.ticks')) as number[];
  for (const [i, tab] of tabs.entries()) {
    await waitFor(
      async () => {
        const ticks = await ticksOf(tab);
        return ticks.length === n && ticks.every((t, k) => t === k + 1);
      },
      `ticks 1..${n} in ${name(i)}`,
      ms,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(await ticksOf(tab))}`);
    });
  }
}

/** Run `publish` every `everyMs` until `stop()`, which resolves once the last publish has. */
export function pump(publish: () => Promise<unknown>, everyMs: number) {
  let running = true;
  const done = (async () => {
    while (running) {
      await publish();
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    stop() {
      running = false;
      return done;
    },
  };
}
