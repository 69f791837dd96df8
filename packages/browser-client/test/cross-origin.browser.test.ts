import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath, type LaunchedBrowser, launchChromium } from '../../../test-support/system.js';
import { makeHub, serve, type TestServer } from './helpers.js';
import { PAGE, pageBundle, pageRoutes } from './page-bundle.js';

/**
 * A page on one origin (http://localhost:<port>) talking to the server as
 * http://127.0.0.1:<port> — another origin for the browser. Refused (the
 * default same-host policy), every transport must stop with forbidden_origin
 * instead of reconnecting for ever; allowed (allowedOrigins), every transport
 * and commands must work, with cookies.
 */
const script = `
import { connect } from '@boardcast/browser-client';
import { defineContract, typed } from '@boardcast/core';
const contract = defineContract({
  events: { led: typed(), tick: typed() },
  commands: { led: { input: typed(), result: typed() } },
  state: typed(),
  reducers: { led: (s, led) => ({ ...s, led }), tick: (s, tick) => ({ ...s, tick }) },
});
window.run = (api, options) => new Promise((resolve) => {
  const log = [];
  const client = connect(api, contract, { reconnect: { initialDelayMs: 100, maxDelayMs: 200 }, credentials: 'include', ...options });
  client.on('error', (e) => log.push('error ' + e.code));
  client.onStatus((s) => {
    log.push(s.status);
    if (s.status === 'closed') resolve({ log, error: client.error && client.error.code, message: client.error && client.error.message });
  });
  client.whenReady().then(async (state) => {
    const result = await client.command('led', { state: 'toggle' });
    resolve({ log, state, result });
    client.close();
  }, () => undefined);
});
window.ready = true;
`;

/** Each transport the page runs a client on. */
const MODES = [{ transport: 'sse' }, { transport: 'sse', eventSource: 'fetch' }, { transport: 'ws' }] as const;

type Outcome = { log: string[]; error?: string; message?: string; state?: unknown; result?: unknown };

describe.skipIf(!chromiumPath)('a page on another origin in Chromium', () => {
  let browser: LaunchedBrowser;
  let js: Map<string, string>;
  let server: TestServer | undefined;
  let hub: ReturnType<typeof makeHub> | undefined;

  beforeAll(async () => {
    js = await pageBundle(script);
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await server?.kill();
    await hub?.close();
    server = hub = undefined;
  });

  async function start(allowPage: boolean) {
    hub = makeHub();
    let port = 0;
    const pageOrigin = () => `http://localhost:${port}`;
    server = await serve(hub, {
      http: { allowedOrigins: allowPage ? (origin) => origin === pageOrigin() : 'same-host' },
      ws: { allowedOrigins: allowPage ? (origin) => origin === pageOrigin() : 'same-host' },
      extra: pageRoutes(PAGE, js),
    });
    port = server.port;
    const tab = await browser.browser.newPage();
    await tab.goto(`${pageOrigin()}/`);
    await tab.waitForFunction('window.ready === true');
    const api = `http://127.0.0.1:${port}/api`;
    /** A client on each of MODES in the page, one after the other: what each ended with, and its label. */
    const outcomes = async () => {
      const all: [(typeof MODES)[number], Outcome, string][] = [];
      for (const options of MODES) {
        const outcome = (await tab.evaluate(
          ([url, o]) => (window as unknown as { run: (u: string, o: unknown) => Promise<unknown> }).run(url, o),
          [api, options] as const,
        )) as Outcome;
        all.push([options, outcome, JSON.stringify(options)]);
      }
      return all;
    };
    return { tab, outcomes };
  }

  it('refused: SSE (native and fetch) stops with forbidden_origin after a bounded number of attempts, WS at once', async () => {
    const { tab, outcomes } = await start(false);
    for (const [options, outcome, label] of await outcomes()) {
      expect(outcome.error, label).toBe('forbidden_origin');
      if (options.transport === 'ws') {
        // Told inside the socket: stops on the first attempt.
        expect(
          outcome.log.filter((l) => l === 'error forbidden_origin'),
          label,
        ).toHaveLength(1);
      } else {
        expect(outcome.message, label).toContain('allowedOrigins');
        expect(
          outcome.log.filter((l) => l === 'error forbidden_origin'),
          label,
        ).toHaveLength(3);
      }
      expect(outcome.log.at(-1), label).toBe('closed');
    }
    await tab.close();
  }, 60_000);

  it('allowed: every transport streams and commands work from the other origin', async () => {
    const { tab, outcomes } = await start(true);
    for (const [, outcome, label] of await outcomes()) {
      expect(outcome.error, label).toBeUndefined();
      expect(outcome.state, label).toMatchObject({ led: { on: expect.any(Boolean) } });
      expect(outcome.result, label).toEqual({ on: expect.any(Boolean) });
    }
    await tab.close();
  }, 60_000);
});
