import { BoardcastError } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAll, refusal, setup } from './helpers.js';

/**
 * A refused upgrade's HTTP answer carries core's Retry-After rule
 * (core/test/retry-after.test.ts checks the rule itself), as a real `ws`
 * client sees it.
 */

afterEach(closeAll);

const tooMany = (details?: unknown) =>
  new BoardcastError('too_many_requests', 'slow down', details === undefined ? undefined : { details });

describe('Retry-After on a refused upgrade', () => {
  it('an authorize refusal with details.retryAfterMs answers 429 with Retry-After in whole seconds, rounded up', async () => {
    const waits = [2001, 0];
    let next = 0;
    const { url, port } = await setup({
      authorize: () => {
        throw tooMany({ retryAfterMs: waits[next++ % waits.length] });
      },
    });
    const seen: unknown[] = [];
    for (const _ of waits) {
      const answer = await refusal(url);
      expect(answer.status).toBe(429);
      expect(answer.body.error.code).toBe('too_many_requests');
      seen.push(answer.headers?.['retry-after']);
    }
    expect(seen).toEqual(['3', '1']);
    // A browser (same-host Origin) is told inside the socket (an HTTP 429 would read as a lost
    // network), the wait in the envelope's details instead of a header.
    const browser = await refusal(url, { origin: `http://127.0.0.1:${port}` });
    expect(browser.inBand).toBe(true);
    expect(browser.status).toBe(429);
    expect(browser.body.error).toEqual({
      code: 'too_many_requests',
      message: 'slow down',
      details: { retryAfterMs: 2001 },
    });
  });

  it('a 429 whose error names no wait gets no made-up Retry-After', async () => {
    const { url } = await setup({
      authorize: () => {
        throw tooMany();
      },
    });
    const answer = await refusal(url);
    expect(answer.status).toBe(429);
    expect(answer.headers).toBeDefined();
    expect(answer.headers?.['retry-after']).toBeUndefined();
  });

  it('a 503 whose error says how long carries it; a refusal that is not about waiting does not', async () => {
    const errors = [
      new BoardcastError('board_offline', 'the board restarts', { details: { retryAfterMs: 30_000 } }),
      new BoardcastError('unauthorized', 'no', { details: { retryAfterMs: 30_000 } }),
    ];
    let next = 0;
    const { url } = await setup({
      authorize: () => {
        throw errors[next++];
      },
    });
    const offline = await refusal(url);
    expect(offline.status).toBe(503);
    expect(offline.headers?.['retry-after']).toBe('30');
    const unauthorized = await refusal(url);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.inBand).toBeUndefined();
    expect(unauthorized.headers?.['retry-after']).toBeUndefined();
  });
});
