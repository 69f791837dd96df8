/**
 * `--trust-proxy` (DashboardOptions.trustProxy) reaches every route of the
 * dashboard, over real sockets: connections from 127.0.0.1 play nginx in
 * front, connections bound to 127.0.0.2 play a client that is not a proxy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type StatusAndCodeOptions, statusAndCode } from '../../../test-support/status-and-code.js';
import type { RunningDashboard } from '../src/server.js';
import { start } from './helpers.js';

let dashboard: RunningDashboard | undefined;

afterEach(async () => {
  await dashboard?.close();
  dashboard = undefined;
});

/** A request from `localAddress`; resolves with the status and error code (an SSE stream stays open until the test ends). */
const send = (path: string, headers: Record<string, string>, options: StatusAndCodeOptions = {}) =>
  statusAndCode(dashboard?.port, path, headers, { ...options, keepStreams: true });

/** What nginx in front of `https://panel.example.com` adds to a page's request. */
const viaProxy = (client: string) => ({
  'X-Forwarded-For': client,
  'X-Forwarded-Host': 'panel.example.com',
  'X-Forwarded-Proto': 'https',
});
const fromPage = { Origin: 'https://panel.example.com' };

describe('sensor-dashboard behind a reverse proxy (trustProxy)', () => {
  it('SSE streams are capped per viewer behind the proxy, not per proxy; spoofed headers from others are ignored', async () => {
    dashboard = await start({
      trustProxy: ['127.0.0.1'],
      maxStreamsPerAddress: 2,
      allowedHosts: ['panel.example.com'],
    });
    for (const client of ['198.51.100.1', '198.51.100.1', '198.51.100.2', '198.51.100.2']) {
      expect(await send('/api/events', viaProxy(client))).toEqual({ status: 200, code: undefined });
    }
    expect(await send('/api/events', viaProxy('198.51.100.1'))).toEqual({ status: 503, code: 'too_many_clients' });
    // A client that is no proxy cannot claim to be many: its three streams are all 127.0.0.2.
    const spoof = (claim: string) => send('/api/events', { 'X-Forwarded-For': claim }, { localAddress: '127.0.0.2' });
    expect((await spoof('203.0.113.1')).status).toBe(200);
    expect((await spoof('203.0.113.2')).status).toBe(200);
    expect(await spoof('203.0.113.3')).toEqual({ status: 503, code: 'too_many_clients' });
  });

  it("the page's public origin is accepted through the proxy on chart history, commands and the page; not from others", async () => {
    dashboard = await start({ trustProxy: ['127.0.0.1'], allowedHosts: ['panel.example.com'] });
    const history = '/api/telemetry/latest';
    const command = (headers: Record<string, string>, localAddress?: string) =>
      send(
        '/api/commands/set_alarm',
        { 'Content-Type': 'application/json', ...headers },
        { method: 'POST', body: '{"sensor":"temperature","low":null,"high":30}', localAddress },
      );
    expect(await send(history, { ...fromPage, ...viaProxy('198.51.100.7') })).toEqual({ status: 200, code: undefined });
    expect(await command({ ...fromPage, ...viaProxy('198.51.100.7') })).toEqual({ status: 200, code: undefined });
    expect((await send('/', viaProxy('198.51.100.7'))).status).not.toBe(403);
    // The same headers from a peer that is not the proxy: Host 127.0.0.1 over http, so the page's origin is foreign.
    const spoofed = { ...fromPage, ...viaProxy('198.51.100.7') };
    expect(await send(history, spoofed, { localAddress: '127.0.0.2' })).toEqual({
      status: 403,
      code: 'forbidden_origin',
    });
    expect(await command(spoofed, '127.0.0.2')).toEqual({ status: 403, code: 'forbidden_origin' });
    // A trusted proxy forwarding a host nobody allowed: refused by the Host guard, as a direct request would be.
    expect(await send('/', { ...viaProxy('198.51.100.7'), 'X-Forwarded-Host': 'rebind.example' })).toEqual({
      status: 403,
      code: 'forbidden_host',
    });
  });

  it('without trustProxy (the default) the forwarded page is refused and every viewer is the proxy', async () => {
    dashboard = await start({ maxStreamsPerAddress: 2, allowedHosts: ['panel.example.com'] });
    expect(await send('/api/telemetry/latest', { ...fromPage, ...viaProxy('198.51.100.7') })).toEqual({
      status: 403,
      code: 'forbidden_origin',
    });
    expect((await send('/api/events', viaProxy('198.51.100.1'))).status).toBe(200);
    expect((await send('/api/events', viaProxy('198.51.100.2'))).status).toBe(200);
    expect(await send('/api/events', viaProxy('198.51.100.3'))).toEqual({ status: 503, code: 'too_many_clients' });
  });
});
