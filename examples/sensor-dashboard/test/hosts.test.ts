import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProbeInit, statusWithHost, upgradeHeaders } from '../../../test-support/host-probe.js';
import type { RunningDashboard } from '../src/server.js';
import { start } from './helpers.js';

// `allowedHosts` (--allowed-host) reaches every route of the dashboard: the
// page, device ingest, the SSE stream, commands and the WebSocket upgrade.
let dashboard: RunningDashboard;

beforeAll(async () => {
  dashboard = await start({ allowedHosts: ['dash.lan'] });
});
afterAll(async () => {
  await dashboard?.close();
});

const json = { 'Content-Type': 'application/json' };
const routes: Array<[string, string, ProbeInit]> = [
  ['page', '/', {}],
  ['ingest', '/api/readings', { method: 'POST', headers: json, body: '{"sensor":"t","value":1}' }],
  ['SSE stream', '/api/events', {}],
  ['command', '/api/commands/set_alarm', { method: 'POST', headers: json, body: '{"sensor":"t","high":30}' }],
  ['WebSocket', '/api/ws', { headers: upgradeHeaders('boardcast.v1') }],
];

describe('sensor-dashboard allowedHosts', () => {
  it.each(routes)('%s: a foreign Host gets 403, the configured LAN name does not', async (_, path, init) => {
    const { port } = dashboard;
    expect(await statusWithHost(port, `rebind.example:${port}`, path, init)).toBe(403);
    expect(await statusWithHost(port, `dash.lan:${port}`, path, init)).not.toBe(403);
  });
});
