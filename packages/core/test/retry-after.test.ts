import { describe, expect, it } from 'vitest';
import { BoardcastError } from '../src/errors.js';
import { retryAfterHeader } from '../src/server.js';

/** The rule every endpoint applies; the servers' tests check it reaches their answers. */
const tooMany = (details?: unknown) =>
  new BoardcastError('too_many_requests', 'slow down', details === undefined ? undefined : { details });

describe('retryAfterHeader (RFC 9110 §10.2.3 delay-seconds)', () => {
  it('is details.retryAfterMs in whole seconds, rounded up, never below 1', () => {
    const cases: [number, string][] = [
      [0, '1'],
      [1, '1'],
      [999, '1'],
      [1000, '1'],
      [1001, '2'],
      [2001, '3'],
      [59_999, '60'],
      [86_400_000, '86400'],
    ];
    for (const [ms, seconds] of cases)
      expect(retryAfterHeader(tooMany({ retryAfterMs: ms })), `${ms}`).toEqual({ 'Retry-After': seconds });
  });

  it('is absent when the error names no wait, or nonsense', () => {
    const details: unknown[] = [
      undefined,
      null,
      {},
      { retryAfterMs: -1 },
      { retryAfterMs: Number.NaN },
      { retryAfterMs: Number.POSITIVE_INFINITY },
      { retryAfterMs: '5' },
      { retryAfterMs: null },
      42,
    ];
    for (const detail of details) expect(retryAfterHeader(tooMany(detail)), String(detail)).toEqual({});
  });

  it('goes with 429 and 503 only; the status sent, when given, decides', () => {
    const wait = { details: { retryAfterMs: 30_000 } };
    expect(retryAfterHeader(new BoardcastError('board_offline', 'restarting', wait))).toEqual({ 'Retry-After': '30' });
    expect(retryAfterHeader(new BoardcastError('queue_full', 'full', wait))).toEqual({ 'Retry-After': '30' });
    for (const code of ['forbidden', 'unauthorized', 'timeout', 'handler_failed'] as const) {
      expect(retryAfterHeader(new BoardcastError(code, 'no', wait)), code).toEqual({});
    }
    // A 429 answered with another status (and the reverse): the status on the wire counts.
    expect(retryAfterHeader(tooMany({ retryAfterMs: 5000 }), 400)).toEqual({});
    expect(retryAfterHeader(new BoardcastError('forbidden', 'no', wait), 503)).toEqual({ 'Retry-After': '30' });
    expect(retryAfterHeader(new BoardcastError('forbidden', 'no', wait), 429)).toEqual({ 'Retry-After': '30' });
  });
});
