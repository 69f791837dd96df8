import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_A_LED_COMMAND } from '../../../test-support/led-command-bodies.js';
import type { Fleet } from '../src/server.js';
import { startTestFleet } from './helpers.js';

/**
 * Malformed input on every HTTP route of the fleet (issue 27), as the LED
 * demo's test/malformed-input.test.ts does for its routes: `null`, missing
 * fields, wrong types, oversized bodies, bad %-encoding and odd query
 * parameters answer a typed 4xx (`BoardcastError` JSON) before any handler
 * runs — never a 500 — no LED or input moves, nothing is logged as a server
 * error, and the server keeps serving everyone. (The WebSocket's malformed
 * frames are ws-server's tests; `ws` is not a dependency of this example.)
 */
let fleet: Fleet;
const lines: string[] = [];

beforeAll(async () => {
  fleet = await startTestFleet({ boards: 2, log: (line) => lines.push(line) });
});
afterAll(async () => {
  await fleet?.close();
});

const base = () => `http://127.0.0.1:${fleet.port}`;

async function send(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': 'application/json' },
): Promise<{ status: number; code: string | undefined }> {
  const res = await fetch(`${base()}${path}`, { method, headers, body });
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    // A stream that opened: its status says so; do not wait for its end.
    await res.body?.cancel();
    return { status: res.status, code: undefined };
  }
  const text = await res.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code as string | undefined;
  } catch {
    code = undefined;
  }
  return { status: res.status, code };
}

const NOT_A_SIMULATE_COMMAND = [
  'null',
  '[]',
  '{}',
  '{"pin":0}',
  '{"value":1}',
  '{"pin":0,"value":"1"}',
  '{"pin":0,"value":null}',
  '{"pin":0,"value":true}',
  '{"pin":0,"value":1e999}',
  '{"pin":-1,"value":1}',
  '{"pin":1.5,"value":1}',
  '{"pin":null,"value":1}',
  `{"pin":"${'x'.repeat(65)}","value":1}`,
  '{"pin":["0"],"value":1}',
];

describe('fleet: malformed input → typed 4xx, never 500', () => {
  it.each(NOT_A_LED_COMMAND)(
    'POST /api/commands/led?channel=board-1 %s → 400 invalid_payload, LED unchanged',
    async (body) => {
      const before = fleet.hub.channel('board-1').state.led.on;
      expect(await send('POST', '/api/commands/led?channel=board-1', body)).toEqual({
        status: 400,
        code: 'invalid_payload',
      });
      expect(fleet.hub.channel('board-1').state.led.on).toBe(before);
    },
  );

  it.each(NOT_A_SIMULATE_COMMAND)(
    'POST /api/commands/simulate?channel=board-1 %s → 400 invalid_payload, inputs unchanged',
    async (body) => {
      const before = JSON.stringify(fleet.hub.channel('board-1').state.inputs);
      expect(await send('POST', '/api/commands/simulate?channel=board-1', body)).toEqual({
        status: 400,
        code: 'invalid_payload',
      });
      expect(JSON.stringify(fleet.hub.channel('board-1').state.inputs)).toBe(before);
    },
  );

  it('not JSON, the wrong media type, and an oversized body are refused typed', async () => {
    const led = '/api/commands/led?channel=board-1';
    expect(await send('POST', led, '{"state":')).toEqual({ status: 400, code: 'invalid_payload' });
    expect(await send('POST', led, '')).toEqual({ status: 400, code: 'invalid_payload' });
    // A cross-site form can send text/plain: refused, not parsed.
    expect(await send('POST', led, '{"state":"on"}', { 'Content-Type': 'text/plain' })).toEqual({
      status: 415,
      code: 'unsupported_media_type',
    });
    const huge = JSON.stringify({ state: 'on', pad: 'x'.repeat(200_000) });
    expect(await send('POST', led, huge)).toEqual({ status: 413, code: 'payload_too_large' });
    expect(fleet.hub.channel('board-1').state.led.on).toBe(false);
  });

  it.each([
    ['a channel that is no id', '/api/commands/led?channel=%ZZ', 400, 'invalid_payload'],
    ['an empty channel', '/api/commands/led?channel=', 400, 'invalid_payload'],
    ['an overlong channel', `/api/commands/led?channel=${'b'.repeat(200)}`, 400, 'invalid_payload'],
    ['a channel with a slash', '/api/commands/led?channel=board-1%2F..', 400, 'invalid_payload'],
    ['a channel nobody has', '/api/commands/led?channel=board-999', 404, 'unknown_command'],
    ['an unknown command', '/api/commands/reboot?channel=board-1', 404, 'unknown_command'],
    ['a command name with bad %-encoding', '/api/commands/%ZZ?channel=board-1', 404, 'unknown_command'],
    ['a command name with broken UTF-8', '/api/commands/%E0%A4%A?channel=board-1', 404, 'unknown_command'],
  ])('POST with %s → %i %s', async (_what, path, status, code) => {
    expect(await send('POST', path, '{"state":"on"}')).toEqual({ status, code });
    expect(fleet.hub.channel('board-1').state.led.on).toBe(false);
  });

  it.each([
    ['/api/directory?offset=-1', 400, 'invalid_payload'],
    ['/api/directory?offset=abc', 400, 'invalid_payload'],
    ['/api/directory?limit=1e9', 400, 'invalid_payload'],
    ['/api/directory?status=bogus', 400, 'invalid_payload'],
    ['/api/directory?kind=', 400, 'invalid_payload'],
    ['/api/events?channels=%ZZ', 400, 'invalid_payload'],
    ['/api/events?status=bogus', 400, 'invalid_payload'],
    [`/api/events?channels=${'c'.repeat(200)}`, 400, 'invalid_payload'],
    ['/api/me%ZZ', 404, 'not_found'],
    ['/api/%ZZ', 404, 'not_found'],
    ['/%ZZ', 404, 'not_found'],
    ['/app.js%ZZ', 404, 'not_found'],
  ])('GET %s → %i %s', async (path, status, code) => {
    expect(await send('GET', path)).toEqual({ status, code });
  });

  it('odd but harmless queries are served: a kind no board has lists none, empty list entries are skipped', async () => {
    const none = await fetch(`${base()}/api/directory?kind=%ZZ`);
    expect(none.status).toBe(200);
    expect(await none.json()).toEqual({ entries: [], total: 0 });
    expect(await send('GET', '/api/events?channels=board-*,,')).toEqual({ status: 200, code: undefined });
  });

  it.each([
    ['null', 'null'],
    ['a list', '[]'],
    ['channels of the wrong type', '{"channels":"board-1"}'],
    ['a channel that is not a string', '{"channels":[1]}'],
    ['an invalid channel id', '{"channels":["bad id with spaces"]}'],
    ['not JSON', '{"channels":['],
  ])('POST /api/events with %s → 400 invalid_payload', async (_what, body) => {
    expect(await send('POST', '/api/events', body)).toEqual({ status: 400, code: 'invalid_payload' });
  });

  it('still serves everyone afterwards: a good command runs, the directory answers, nothing failed', async () => {
    expect(await send('POST', '/api/commands/led?channel=board-2', '{"state":"on"}')).toEqual({
      status: 200,
      code: undefined,
    });
    expect(fleet.hub.channel('board-2').state.led.on).toBe(true);
    const directory = await fetch(`${base()}/api/directory`);
    expect(directory.status).toBe(200);
    expect(((await directory.json()) as { total: number }).total).toBe(2);
    expect(lines.filter((line) => /^error|handler_failed|internal/.test(line))).toEqual([]);
  });
});
