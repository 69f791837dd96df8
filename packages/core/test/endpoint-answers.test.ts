// core/server's shared endpoint rules: authorizeRequest (what every endpoint's
// `authorize` hook answer means) and the JSON/error answers they send.
import { describe, expect, it, vi } from 'vitest';
import { BoardcastError, type BoardcastRequest } from '../src/index.js';
import { authorizeRequest, errorReply, fromFetchRequest, jsonReply } from '../src/server.js';

const request: BoardcastRequest<Request> = fromFetchRequest(new Request('http://localhost/events'));
const NOW = 1_700_000_000_000;
const clock = () => NOW;

describe('authorizeRequest', () => {
  it('allows with auth undefined when there is no hook, without calling onError', async () => {
    const onError = vi.fn();
    expect(await authorizeRequest(undefined, request, onError, clock)).toEqual({ ok: true, auth: undefined });
    expect(onError).not.toHaveBeenCalled();
  });

  it('passes the hook the request and returns its answer as auth (a sync or an async hook)', async () => {
    const seen: unknown[] = [];
    const hook = (r: BoardcastRequest<Request>) => {
      seen.push(r);
      return { user: 'ada' };
    };
    expect(await authorizeRequest(hook, request, vi.fn(), clock)).toEqual({ ok: true, auth: { user: 'ada' } });
    expect(seen).toEqual([request]);
    expect(await authorizeRequest(async () => 'token', request, vi.fn(), clock)).toEqual({ ok: true, auth: 'token' });
    // Falsy answers other than `false` are principals too (an app's anonymous id 0, an empty name).
    expect(await authorizeRequest(() => 0, request, vi.fn(), clock)).toEqual({ ok: true, auth: 0 });
    expect(await authorizeRequest(() => null, request, vi.fn(), clock)).toEqual({ ok: true, auth: null });
  });

  it('refuses false with 401 unauthorized', async () => {
    const outcome = await authorizeRequest(async () => false, request, vi.fn(), clock);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error).toBeInstanceOf(BoardcastError);
    expect([outcome.error.code, outcome.error.status, outcome.error.message]).toEqual([
      'unauthorized',
      401,
      'not authorized',
    ]);
  });

  it('refuses a credential whose expiresAt is now or past, and keeps one that expires later', async () => {
    for (const expiresAt of [NOW, NOW - 1]) {
      const outcome = await authorizeRequest(() => ({ expiresAt }), request, vi.fn(), clock);
      expect(outcome).toMatchObject({
        ok: false,
        error: { code: 'unauthorized', message: 'the credential has expired' },
      });
    }
    const later = { expiresAt: NOW + 1 };
    expect(await authorizeRequest(() => later, request, vi.fn(), clock)).toEqual({ ok: true, auth: later });
    // No clock given: Date.now.
    const past = { expiresAt: Date.now() - 1000 };
    expect(await authorizeRequest(() => past, request, vi.fn())).toMatchObject({ ok: false });
  });

  it('answers a thrown BoardcastError as it is, without onError', async () => {
    const onError = vi.fn();
    const forbidden = new BoardcastError('forbidden', 'not yours');
    const outcome = await authorizeRequest(
      () => {
        throw forbidden;
      },
      request,
      onError,
      clock,
    );
    expect(outcome).toEqual({ ok: false, error: forbidden });
    expect(onError).not.toHaveBeenCalled();
  });

  it('reports anything else thrown (or rejected) to onError and answers 500 handler_failed without its message', async () => {
    for (const hook of [
      () => {
        throw new Error('db password is hunter2');
      },
      () => Promise.reject(new Error('db password is hunter2')),
    ]) {
      const onError = vi.fn();
      const outcome = await authorizeRequest(hook, request, onError, clock);
      expect(outcome).toMatchObject({
        ok: false,
        error: { code: 'handler_failed', status: 500, message: 'authorization failed' },
      });
      expect(onError.mock.calls).toEqual([[new Error('db password is hunter2')]]);
    }
  });

  it('still resolves when onError itself throws', async () => {
    const outcome = await authorizeRequest(
      () => {
        throw new Error('token service down');
      },
      request,
      () => {
        throw new Error('the logger is down too');
      },
      clock,
    );
    expect(outcome).toMatchObject({ ok: false, error: { code: 'handler_failed' } });
  });
});

describe('jsonReply / errorReply', () => {
  const JSON_HEADERS = {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  };

  it('jsonReply: the JSON headers, then the given ones (which may override)', () => {
    expect(jsonReply(200, '{"a":1}')).toEqual({ status: 200, headers: JSON_HEADERS, body: '{"a":1}' });
    expect(jsonReply(201, '[]', { 'Cache-Control': 'max-age=5', 'X-App': '1' })).toEqual({
      status: 201,
      headers: { ...JSON_HEADERS, 'Cache-Control': 'max-age=5', 'X-App': '1' },
      body: '[]',
    });
  });

  it('jsonReply: a header named like a JSON header in another case replaces it; others add', () => {
    expect(jsonReply(200, '{}', { 'cache-control': 'max-age=5', 'content-type': 'application/problem+json' })).toEqual({
      status: 200,
      headers: {
        'X-Content-Type-Options': 'nosniff',
        'cache-control': 'max-age=5',
        'content-type': 'application/problem+json',
      },
      body: '{}',
    });
  });

  it("errorReply: the error's body and status, or the status given", () => {
    const error = new BoardcastError('forbidden', 'not yours');
    expect(errorReply(error)).toEqual({ status: 403, headers: JSON_HEADERS, body: JSON.stringify(error.toBody()) });
    expect(errorReply(error, undefined, 404).status).toBe(404);
    expect(JSON.parse(errorReply(error).body)).toEqual({ error: { code: 'forbidden', message: 'not yours' } });
  });

  it('errorReply: Retry-After for a 429/503 that names its wait; a Retry-After given wins', () => {
    const throttled = new BoardcastError('too_many_requests', 'later', { details: { retryAfterMs: 2001 } });
    expect(errorReply(throttled).headers['Retry-After']).toBe('3');
    expect(errorReply(throttled, { 'Retry-After': '10' }).headers['Retry-After']).toBe('10');
    // Header names are case-insensitive: a lower-case one replaces, never joins, the computed one.
    expect(errorReply(throttled, { 'retry-after': '10' }).headers).toEqual({
      ...JSON_HEADERS,
      'retry-after': '10',
    });
    // Sent as a 400, the same error has no "later" meaning: no header.
    expect(errorReply(throttled, undefined, 400).headers['Retry-After']).toBeUndefined();
  });
});
