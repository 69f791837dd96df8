import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../src/server.js';

describe('RateLimiter', () => {
  it('refuses a rate ≤ 0 or a burst < 1, and infinite ones', () => {
    for (const [rate, burst] of [
      [0, 1],
      [-1, 1],
      [Number.NaN, 1],
      [Number.POSITIVE_INFINITY, 1],
      [1, 0.5],
      [1, Number.NaN],
      [1, Number.POSITIVE_INFINITY],
    ] as const) {
      expect(() => new RateLimiter(rate, burst), `${rate}/${burst}`).toThrow(
        new RangeError('rate must be > 0 and burst ≥ 1 (both finite)'),
      );
    }
    expect(() => new RateLimiter(0.001, 1)).not.toThrow();
  });

  it('allows a burst, then `rate` per second, per key', () => {
    let now = 0;
    const limiter = new RateLimiter(2, 2, () => now);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([true, true, false]);
    expect(limiter.take('b')).toBe(true); // another key has its own bucket
    now = 499;
    expect(limiter.take('a')).toBe(false);
    now = 500; // 2 per second: one token back after 500 ms
    expect([limiter.take('a'), limiter.take('a')]).toEqual([true, false]);
    now = 60_000; // never more than the burst
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([true, true, false]);
  });

  it('take(key, cost) spends `cost` tokens at once; a refused take spends nothing', () => {
    let now = 0;
    const limiter = new RateLimiter(10, 100, () => now);
    expect(limiter.take('s', 100)).toBe(true); // a full bucket pays its whole burst
    expect(limiter.take('s', 1)).toBe(false);
    now = 1000; // 10 tokens back
    expect(limiter.take('s', 11)).toBe(false); // refused: the 10 stay
    expect(limiter.take('s', 10)).toBe(true);
    expect(limiter.take('s', 0.5)).toBe(false);
    now = 1050; // half a token back: fractional costs are paid exactly
    expect(limiter.take('s', 0.5)).toBe(true);
    expect(limiter.take('t', 60)).toBe(true);
    expect(limiter.take('t', 40)).toBe(true);
    expect(limiter.take('t', 1)).toBe(false);
  });

  it('a cost no bucket could ever pay is a RangeError, not a silent refusal', () => {
    const limiter = new RateLimiter(1, 5);
    for (const cost of [0, -1, 5.5, 6, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => limiter.take('k', cost), `${cost}`).toThrow(new RangeError('cost must be > 0 and ≤ burst (5)'));
      expect(() => limiter.waitMs('k', cost), `${cost}`).toThrow(RangeError);
    }
    expect(limiter.size).toBe(0);
    expect(limiter.take('k', 5)).toBe(true);
  });

  it('waitMs says how long until a take of `cost` is admitted, and changes nothing', () => {
    let now = 0;
    const limiter = new RateLimiter(4, 8, () => now);
    expect(limiter.waitMs('w')).toBe(0); // an unknown key starts full
    expect(limiter.waitMs('w', 8)).toBe(0);
    expect(limiter.take('w', 8)).toBe(true);
    expect(limiter.waitMs('w')).toBe(250); // 4 per second: a token every 250 ms
    expect(limiter.waitMs('w', 8)).toBe(2000);
    now = 100;
    expect(limiter.waitMs('w')).toBe(150);
    expect(limiter.waitMs('w')).toBe(150); // asking again spends and refills nothing
    expect(limiter.take('w')).toBe(false);
    now = 249;
    expect(limiter.take('w')).toBe(false);
    expect(limiter.waitMs('w')).toBeCloseTo(1, 9);
    now = 250; // exactly when it said
    expect(limiter.take('w')).toBe(true);
    expect(limiter.waitMs('w')).toBe(250);
    now = 10_000;
    expect(limiter.waitMs('w', 8)).toBe(0); // refilled, and never beyond the burst
    expect(limiter.waitMs('w', 3)).toBe(0); // more than enough: no wait, never a negative one
  });

  it('drops only buckets that are full again (a dropped bucket is the same as a full one), at most once a minute', () => {
    let now = 1;
    const limiter = new RateLimiter(1, 2, () => now);
    limiter.take('a'); // 1 token; full again at 1,001 ms
    expect(limiter.size).toBe(1);
    now = 60_000; // a is full, but 60,000 ms since the last sweep (at 0) is not more than a minute
    limiter.take('b');
    expect(limiter.size).toBe(2);
    now = 60_001; // sweeps: a (full) goes; b (1.001 tokens) stays
    limiter.take('b');
    expect(limiter.size).toBe(1);
    now = 120_001; // b is full, but the last sweep was exactly a minute ago
    limiter.take('c');
    expect(limiter.size).toBe(2);
    now = 120_002; // sweeps: b goes, c (1.001 tokens) stays, and pays this take
    expect(limiter.take('c')).toBe(true);
    expect(limiter.size).toBe(1);
    expect(limiter.take('c')).toBe(false); // kept, not reset: a fresh bucket would have paid
  });

  it('never forgives an idle bucket that has not refilled: a slow rate holds however long the key waits', () => {
    let now = 1;
    const limiter = new RateLimiter(0.001, 2, () => now); // a token every 1,000 s
    expect([limiter.take('x'), limiter.take('x'), limiter.take('x')]).toEqual([true, true, false]);
    now = 61_001; // idle a minute and swept: x has 0.06 tokens, and keeps them
    expect(limiter.take('x')).toBe(false);
    expect(limiter.size).toBe(1);
    expect(limiter.waitMs('x')).toBeCloseTo(1_000_000 - 61_000, 6);
    now = 1_000_001; // exactly one token earned since the drain
    expect([limiter.take('x'), limiter.take('x')]).toEqual([true, false]);
    now = 5_000_000; // full again (2 tokens): swept at the next take; a fresh bucket holds the same
    expect([limiter.take('y'), limiter.take('x'), limiter.take('x'), limiter.take('x')]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(limiter.size).toBe(2);
  });
});
