import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor } from '../../../test-support/wait.js';
import type { Fleet } from '../src/server.js';
import { startTestFleet } from './helpers.js';

let fleet: Fleet;
beforeAll(async () => {
  fleet = await startTestFleet({ boards: 2 });
});
afterAll(() => fleet?.close());

const get = (path: string) => fetch(`http://127.0.0.1:${fleet.port}${path}`);

it.each([
  '/api/directory?status=bogus',
  '/api/directory?status=',
  '/api/directory?kind=',
  '/api/directory?kind=%20',
  '/api/events?channels=~directory&status=bogus',
])('%s is 400 invalid_payload, not an empty page', async (path) => {
  const res = await get(path);
  expect(res.status).toBe(400);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_payload');
});

it('a status a board has, and any kind, still filter', async () => {
  await waitFor(
    async () => ((await (await get('/api/directory?status=online')).json()) as { total: number }).total === 2,
    'both boards online in the directory',
  );
  const offline = (await (await get('/api/directory?status=offline')).json()) as { total: number };
  expect(offline.total).toBe(0);
  const none = await get('/api/directory?kind=no-such-kind');
  expect(none.status).toBe(200);
  expect(((await none.json()) as { total: number }).total).toBe(0);
});
