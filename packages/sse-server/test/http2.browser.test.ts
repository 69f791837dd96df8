import { mkdtempSync, rmSync } from 'node:fs';
import { createSecureServer, type Http2SecureServer, type Http2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath } from '../../../test-support/system.js';
import { hasOpenssl, makeTestCa, type TestCa } from '../../../test-support/tls.js';
import { type BoardcastHttp, boardcastHttp } from '../src/index.js';
import { makeHub, waitFor } from './helpers.js';

/** More streams than Chromium's six HTTP/1.1 connections per host: over h2 they all share one. */
const STREAMS = 10;

const page = `<!doctype html><meta charset="utf-8"><script>
  window.snapshots = 0;
  window.leds = 0;
  for (let i = 0; i < ${STREAMS}; i++) {
    const source = new EventSource('/api/events');
    source.addEventListener('snapshot', () => window.snapshots++);
    source.addEventListener('led', () => window.leds++);
  }
  window.command = async () => {
    const response = await fetch('/api/commands/led', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"state":"on"}',
    });
    return response.status + ' ' + (await response.text());
  };
</script>`;

/**
 * Chromium over HTTP/2 (browsers speak h2 only over TLS). The CA is made by
 * the test with openssl and trusted through --ignore-certificate-errors-spki-list
 * with the browser's own --user-data-dir (the flag is ignored without one),
 * never through a blanket --ignore-certificate-errors.
 */
describe.skipIf(!chromiumPath || !hasOpenssl())('HTTP/2 in Chromium', () => {
  let ca: TestCa;
  let server: Http2SecureServer;
  let api: BoardcastHttp;
  const hub = makeHub();
  const sessions = new Set<Http2Session>();
  const versions = new Set<string>();
  /** The HTTP/2 session each event stream came on. */
  const streamSessions = new Set<unknown>();
  let profile: string;
  let context: import('playwright-core').BrowserContext | undefined;

  beforeAll(async () => {
    ca = makeTestCa(['localhost']);
    api = boardcastHttp(hub, { base: '/api' });
    server = createSecureServer({ key: ca.key, cert: ca.chain, allowHTTP1: true }, (req, res) => {
      versions.add(req.httpVersion);
      if (req.url.startsWith('/api/events')) streamSessions.add(req.stream?.session);
      if (api.matches(new URL(req.url, 'https://x').pathname)) return api.node(req, res);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
    });
    server.on('session', (session) => {
      sessions.add(session);
      session.on('close', () => sessions.delete(session));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    profile = mkdtempSync(join(tmpdir(), 'boardcast-chromium-'));
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: [
        ...CHROMIUM_ARGS,
        `--ignore-certificate-errors-spki-list=${ca.spki}`,
        '--host-resolver-rules=MAP localhost 127.0.0.1',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    for (const session of sessions) session.destroy();
    await api?.close();
    await hub.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (profile) rmSync(profile, { recursive: true, force: true });
    ca?.remove();
  });

  it(`opens ${STREAMS} event streams and a command on one TLS connection`, async () => {
    const port = (server.address() as AddressInfo).port;
    const tab = await (context as import('playwright-core').BrowserContext).newPage();
    await tab.goto(`https://localhost:${port}/`);
    await waitFor(async () => (await tab.evaluate('window.snapshots')) === STREAMS, `${STREAMS} snapshots`, 20_000);
    expect(api.sse.clientCount).toBe(STREAMS);
    expect(versions).toEqual(new Set(['2.0']));
    // Every stream on one session: no per-host connection limit to run into. (Chromium may open a
    // second connection of its own, a preconnect, so the server's session count is not the measure.)
    expect(streamSessions.size).toBe(1);
    expect(sessions.size).toBeGreaterThanOrEqual(1);
    expect(await tab.evaluate('window.command()')).toBe('200 {"on":true}');
    await waitFor(async () => (await tab.evaluate('window.leds')) === STREAMS, 'the event on every stream');
    await tab.close();
    await waitFor(() => api.sse.clientCount === 0, 'streams closed with the tab');
  }, 60_000);
});
