import { BoardcastError } from '@boardcast/core';
import { WS_PROTOCOL } from '@boardcast/core/wire';
import { afterEach, describe, expect, it } from 'vitest';
import { type ClientOptions, WebSocket } from 'ws';
import { closeAll, setup } from './helpers.js';

afterEach(closeAll);

/** A refused upgrade's HTTP answer as a real `ws` client sees it: status, headers, parsed body. */
function refusedAnswer(
  url: string,
  options: ClientOptions = {},
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { error: { code: string } };
}> {
  const ws = new WebSocket(url, WS_PROTOCOL, options);
  ws.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(body) });
        ws.terminate();
      });
    });
  });
}

const tooMany = (details?: unknown) =>
  new BoardcastError('too_many_requests', 'slow down', details === undefined ? undefined : { details });

describe('Retry-After on a refused upgrade', () => {
  it('an authorize refusal with details.retryAfterMs answers 429 with Retry-After in whole seconds, rounded up', async () => {
    const waits = [2001, 0, 1000, 59_999];
    let next = 0;
    const { url, port } = await setup({
      authorize: () => {
        throw tooMany({ retryAfterMs: waits[next++] });
      },
    });
    const seen: unknown[] = [];
    for (const _ of waits) {
      const answer = await refusedAnswer(url);
      expect(answer.status).toBe(429);
      expect(answer.body.error.code).toBe('too_many_requests');
      seen.push(answer.headers['retry-after']);
    }
    expect(seen).toEqual(['3', '1', '1', '60']);
    // A browser (same-host Origin) gets the HTTP answer too: waiting is no refusal told in band.
    next = 0;
    const browser = await refusedAnswer(url, { origin: `http://127.0.0.1:${port}` });
    expect(browser.status).toBe(429);
    expect(browser.headers['retry-after']).toBe('3');
  });

  it('a 429 whose error says nothing (or nonsense) about the wait gets no made-up Retry-After', async () => {
    const details: unknown[] = [
      undefined,
      {},
      { retryAfterMs: -1 },
      { retryAfterMs: Number.NaN },
      { retryAfterMs: '5' },
    ];
    let next = 0;
    const { url } = await setup({
      authorize: () => {
        throw tooMany(details[next++]);
      },
    });
    for (const _ of details) {
      const answer = await refusedAnswer(url);
      expect(answer.status).toBe(429);
      expect(answer.headers['retry-after']).toBeUndefined();
    }
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
    const offline = await refusedAnswer(url);
    expect(offline.status).toBe(503);
    expect(offline.headers['retry-after']).toBe('30');
    const unauthorized = await refusedAnswer(url);
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers['retry-after']).toBeUndefined();
  });
});
