import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeStatus } from '../../../test-support/route-status.js';
import type { RunningDashboard } from '../src/server.js';
import { start } from './helpers.js';

/**
 * Malformed input on every route of the dashboard answers 400
 * `invalid_payload` (a 4xx at worst), never a 500, and changes nothing.
 */
let app: RunningDashboard;
beforeAll(async () => {
  app = await start({ capacity: 50 });
});
afterAll(async () => {
  await app?.close();
});

const send = (method: string, path: string, body?: string) =>
  fetch(`${app.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body,
  });

const MALFORMED = ['null', 'true', '1', '"x"', '[]', '{}', '{"sensor":null}', '{"sensor":"temperature","value":"1"}'];

describe('malformed input → 400 before any handler', () => {
  it.each(['/api/readings', '/api/commands/set_alarm', '/api/commands/inject'])(
    'POST %s with each malformed body → 400 invalid_payload',
    async (path) => {
      const before = JSON.stringify(app.hub.state);
      for (const body of MALFORMED) {
        const res = await send('POST', path, body);
        expect(res.status, `${path} ${body}`).toBe(400);
        expect((await res.json()).error.code).toBe('invalid_payload');
      }
      expect(JSON.stringify(app.hub.state)).toBe(before);
    },
  );

  it.each(['/%ZZ', '/index.html%ZZ', '/api/commands/%ZZ', '/api/events?events=%ZZ'])(
    '%s (bad percent-encoding) → 4xx, not 500',
    async (path) => {
      const status = await routeStatus(app.url, path);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
    },
  );
});
