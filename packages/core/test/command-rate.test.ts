import { describe, expect, it } from 'vitest';
import { BoardcastError, createHub } from '../src/index.js';
import { retryAfterHeader } from '../src/server.js';
import { initialState, ledContract } from './fixtures.js';

describe('commandsPerSecond refusals say how long to wait', () => {
  it('a refused command carries details.retryAfterMs: the ms until its principal may send again', async () => {
    // One command per 100 s, bursts of 3: the refusals come on any machine.
    const hub = createHub(ledContract, {
      state: initialState,
      access: { canSee: () => true },
      commandsPerSecond: 0.01,
      commandBurst: 3,
    });
    hub.handle('led', () => ({ on: true }));
    const send = (principal: string) => hub.dispatch('led', { state: 'on' }, { auth: principal });
    const start = performance.now();
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await send('ann'));
    const elapsed = performance.now() - start;
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'ok',
      'ok',
      'ok',
      'too_many_requests',
      'too_many_requests',
      'too_many_requests',
    ]);
    for (const r of results.slice(3)) {
      if (r.ok) throw new Error('expected a refusal');
      expect(r.error).toBeInstanceOf(BoardcastError);
      const { retryAfterMs } = r.error.details as { retryAfterMs: number };
      // A token takes 100,000 ms; the time since the burst was spent already counts.
      expect(Number.isInteger(retryAfterMs)).toBe(true);
      expect(retryAfterMs).toBeLessThanOrEqual(100_000);
      expect(retryAfterMs).toBeGreaterThanOrEqual(100_000 - Math.ceil(elapsed));
      expect(retryAfterHeader(r.error)).toEqual({ 'Retry-After': String(Math.ceil(retryAfterMs / 1000)) });
      // The wire body stays code and message.
      expect(r.error.toJSON()).toEqual({ code: 'too_many_requests', message: 'too many commands; slow down' });
    }
    // Another principal has its own bucket.
    expect((await send('bob')).ok).toBe(true);
    await hub.close();
  });
});
