import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

function statusWithHost(
  host: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: dashboard.port,
        path,
        method: init.method ?? 'GET',
        headers: { ...init.headers, Host: host },
      },
      (res) => {
        resolve(res.statusCode ?? 0);
        res.destroy();
      },
    );
    req.on('upgrade', (res, socket) => {
      resolve(res.statusCode ?? 0);
      socket.destroy();
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

const json = { 'Content-Type': 'application/json' };
const routes: Array<[string, string, Parameters<typeof statusWithHost>[2]]> = [
  ['page', '/', {}],
  ['ingest', '/api/readings', { method: 'POST', headers: json, body: '{"sensor":"t","value":1}' }],
  ['SSE stream', '/api/events', {}],
  ['command', '/api/commands/set_alarm', { method: 'POST', headers: json, body: '{"sensor":"t","high":30}' }],
  [
    'WebSocket',
    '/api/ws',
    {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Protocol': 'boardcast.v1',
      },
    },
  ],
];

describe('sensor-dashboard allowedHosts', () => {
  it.each(routes)('%s: a foreign Host gets 403, the configured LAN name does not', async (_, path, init) => {
    expect(await statusWithHost(`rebind.example:${dashboard.port}`, path, init)).toBe(403);
    expect(await statusWithHost(`dash.lan:${dashboard.port}`, path, init)).not.toBe(403);
  });
});
