import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, startDemo } from '../src/server.js';

// The demo's `--allowed-host` reaches every route on its port: the page and
// its own routes, the SSE stream, the command endpoint, the WebSocket
// upgrade and the board link.
let demo: Demo;

beforeAll(async () => {
  demo = await startDemo({
    port: 0,
    host: '127.0.0.1',
    log: false,
    allowedHosts: ['pi.lan'],
    board: { kind: 'remote', token: 'secret', id: 'esp32' },
  });
});
afterAll(async () => {
  await demo?.close();
});

/** Status of a request sent with a chosen Host header (fetch cannot set Host). */
function statusWithHost(
  host: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: demo.port,
        path,
        method: init.method ?? 'GET',
        headers: { ...init.headers, Host: host },
      },
      (res) => {
        resolve(res.statusCode ?? 0);
        res.destroy();
      },
    );
    // A WebSocket upgrade that is accepted never produces a 'response'.
    req.on('upgrade', (res, socket) => {
      resolve(res.statusCode ?? 0);
      socket.destroy();
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

const upgrade = (protocol: string) => ({
  headers: {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Protocol': protocol,
  },
});

const endpoints: Array<[string, string, Parameters<typeof statusWithHost>[2]]> = [
  // The demo's own routes too: a rebound page must reach nothing on this port.
  ['page', '/', {}],
  ['state', '/api/state', {}],
  ['SSE stream', '/api/events', {}],
  [
    'command',
    '/api/commands/led',
    { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"state":"on"}' },
  ],
  ['WebSocket', '/api/ws', upgrade('boardcast.v1')],
  ['board link', '/board', { headers: { ...upgrade('boardcast-board.v1').headers, Authorization: 'Bearer secret' } }],
];

describe('led-demo --allowed-host', () => {
  it.each(endpoints)(
    '%s refuses a foreign Host with 403 and accepts the configured LAN name',
    async (_, path, init) => {
      expect(await statusWithHost(`rebind.example:${demo.port}`, path, init)).toBe(403);
      const allowed = await statusWithHost(`pi.lan:${demo.port}`, path, init);
      expect(allowed).not.toBe(403);
      expect([200, 101, 503]).toContain(allowed); // 503: the command reached a board that is still offline
    },
  );
});
