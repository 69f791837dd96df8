import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_A_LED_COMMAND } from '../../../test-support/led-command-bodies.js';
import { routeStatus } from '../../../test-support/route-status.js';
import type { Demo } from '../src/server.js';
import { startTestDemo } from './test-demo.js';

/**
 * Malformed input on every route of the demo answers 400 `invalid_payload`
 * (a 4xx at worst) before any handler runs: never a 500, never a crash, and
 * the LED does not move. Before: `null` reached the led handler (500,
 * "Cannot destructure property 'state' of null") and `/api/sim/inputs/%ZZ`
 * was a URIError's 500.
 */
let demo: Demo;
const lines: string[] = [];

beforeAll(async () => {
  demo = await startTestDemo({ log: (line) => lines.push(line), timeIntervalMs: 60_000 });
});
afterAll(async () => {
  await demo?.close();
});

const base = () => demo.url.replace('localhost', '127.0.0.1');
const send = (method: string, path: string, body?: string) =>
  fetch(`${base()}${path.startsWith('/') ? path.slice(1) : path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body,
  });

describe('malformed input → 400 before any handler', () => {
  it.each(NOT_A_LED_COMMAND)('POST /api/commands/led %s → 400 invalid_payload, LED unchanged', async (body) => {
    const before = demo.hub.state.led.on;
    const res = await send('POST', '/api/commands/led', body);
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('invalid_payload');
    expect(demo.hub.state.led.on).toBe(before);
  });

  it.each(['null', '[]', '{}', '{"value":"1"}', '{"value":null}', '{"value":true}', '7'])(
    'POST /api/sim/inputs/0 %s → 400 invalid_payload',
    async (body) => {
      const res = await send('POST', '/api/sim/inputs/0', body);
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe('invalid_payload');
    },
  );

  it.each([
    ['POST', '/api/sim/inputs/%ZZ', '{"value":1}'],
    ['POST', '/api/sim/inputs/%E0%A4%A', '{"value":1}'],
  ])('%s %s (bad percent-encoding) → 400', async (method, path, body) => {
    const res = await send(method, path, body);
    expect(res.status).toBe(400);
    expect((await res.json()).error.code).toBe('invalid_payload');
  });

  it.each(['/%ZZ', '/app.js%ZZ', '/api/commands/%ZZ'])(
    'GET %s (no such route or file) → 4xx, not 500',
    async (path) => {
      const status = await routeStatus(base(), path);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
    },
  );

  it('no handler failed and nothing was logged as an error', () => {
    expect(lines.filter((line) => /^error|handler_failed/.test(line))).toEqual([]);
  });
});
