import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Fleet } from '../src/server.js';
import { parseUsers } from '../src/users.js';
import { startTestFleet } from './helpers.js';

let fleet: Fleet;
const lines: string[] = [];
beforeAll(async () => {
  fleet = await startTestFleet({
    boards: 1,
    users: parseUsers({ users: { alice: { token: 'alice-secret-token', see: ['*'], control: ['*'] } } }),
    log: (line) => lines.push(line),
  });
});
afterAll(() => fleet?.close());

const wrong = { Authorization: 'Bearer not-the-token' };

/** Wrong tokens until one is throttled: each compared one (401) starts a longer window, so a 429 comes. */
async function until429(path: string, counts: { unauthorized: number }): Promise<Response> {
  for (let i = 0; i < 12; i++) {
    const res = await fetch(`http://127.0.0.1:${fleet.port}${path}`, { headers: wrong });
    if (res.status === 429) return res;
    expect(res.status).toBe(401);
    await res.body?.cancel();
    counts.unauthorized += 1;
  }
  throw new Error(`no 429 from ${path}`);
}

it('a throttled wrong token answers 429 with Retry-After and is logged once per window, not as a server error', async () => {
  const counts = { unauthorized: 0 };
  let throttledAnswers = 0;
  for (const path of ['/api/me', '/api/events?channels=board-1', '/api/directory', '/api/me']) {
    const res = await until429(path, counts);
    throttledAnswers += 1;
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('too_many_requests');
    // More inside the same window: still 429 with Retry-After, and no new log line.
    const again = await fetch(`http://127.0.0.1:${fleet.port}${path}`, { headers: wrong });
    await again.body?.cancel();
    if (again.status === 429) {
      throttledAnswers += 1;
      expect(Number(again.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
  }
  expect(lines.filter((l) => l.startsWith('error serving'))).toEqual([]);
  const logged = lines.filter((l) => l.startsWith('auth throttled: wrong tokens from 127.0.0.1'));
  expect(logged.length).toBeGreaterThanOrEqual(1);
  // Each window opens with a compared wrong token (401): at most one line per window.
  expect(logged.length).toBeLessThanOrEqual(counts.unauthorized);
  expect(logged.length).toBeLessThan(throttledAnswers + 1);
}, 120_000);
