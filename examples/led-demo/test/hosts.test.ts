import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProbeInit, statusWithHost, upgradeHeaders } from '../../../test-support/host-probe.js';
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

const endpoints: Array<[string, string, ProbeInit]> = [
  // The demo's own routes too: a rebound page must reach nothing on this port.
  ['page', '/', {}],
  ['state', '/api/state', {}],
  ['SSE stream', '/api/events', {}],
  [
    'command',
    '/api/commands/led',
    { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"state":"on"}' },
  ],
  ['WebSocket', '/api/ws', { headers: upgradeHeaders('boardcast.v1') }],
  ['board link', '/board', { headers: { ...upgradeHeaders('boardcast-board.v1'), Authorization: 'Bearer secret' } }],
];

describe('led-demo --allowed-host', () => {
  it.each(endpoints)(
    '%s refuses a foreign Host with 403 and accepts the configured LAN name',
    async (_, path, init) => {
      expect(await statusWithHost(demo.port, `rebind.example:${demo.port}`, path, init)).toBe(403);
      const allowed = await statusWithHost(demo.port, `pi.lan:${demo.port}`, path, init);
      expect(allowed).not.toBe(403);
      expect([200, 101, 503]).toContain(allowed); // 503: the command reached a board that is still offline
    },
  );
});
