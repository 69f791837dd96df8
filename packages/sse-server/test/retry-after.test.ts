import { createServer, type Server } from 'node:http';
import { BoardcastError, createHub } from '@boardcast/core';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { afterEach, describe, expect, it } from 'vitest';
import { endAll } from '../../../test-support/end-all.js';
import { type Authorize, type BoardcastHttpOptions, boardcastHttp, createTokenAccess } from '../src/index.js';
import { contract, listen, makeHub, type TestServer } from './helpers.js';

/**
 * Every 429 (and 503) the library writes carries `Retry-After` when its error
 * says how long to wait (`details.retryAfterMs`), and only then: the stream,
 * command and directory endpoints, on the Node and the Fetch adapter, on
 * real sockets.
 */

let server: TestServer | undefined;
let hub: ReturnType<typeof testHub> | undefined;
let api: ReturnType<typeof boardcastHttp> | undefined;

afterEach(async () => {
  await endAll(api, hub, server);
  server = undefined;
  hub = undefined;
  api = undefined;
});

type Adapter = 'node' | 'fetch';

/** The test hub; `commandsPerSecond` set: one that rate-limits commands (core's limiter). */
function testHub(commandsPerSecond?: number, commandBurst = 1) {
  if (commandsPerSecond === undefined) return makeHub(10);
  const limited = createHub(contract, { state: { led: { on: false } }, commandsPerSecond, commandBurst });
  limited.handle('echo', (input) => input);
  return limited;
}

async function start(
  adapter: Adapter,
  options: BoardcastHttpOptions,
  commandsPerSecond?: number,
  commandBurst?: number,
) {
  hub = testHub(commandsPerSecond, commandBurst);
  const http = boardcastHttp(hub, { base: '/api', ...options });
  api = http;
  if (adapter === 'node') {
    server = await listen(createServer((req, res) => http.node(req, res)));
  } else {
    // A Fetch runtime on a real socket (@hono/node-server turns each request into a `Request`).
    const started = await new Promise<Server>((resolve) => {
      const s = serve(
        {
          fetch: (request, env) => http.fetch(request, { remoteAddress: getConnInfo({ env } as never).remote.address }),
          port: 0,
          hostname: '127.0.0.1',
        },
        () => resolve(s as Server),
      );
    });
    server = await listen(started);
  }
  return server.url;
}

/** One request to each endpoint: the stream, a command, the directory. */
const endpoints = {
  events: (base: string, headers: Record<string, string> = {}) => fetch(`${base}/api/events`, { headers }),
  commands: (base: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/api/commands/echo`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(1),
    }),
  directory: (base: string, headers: Record<string, string> = {}) => fetch(`${base}/api/directory`, { headers }),
} as const;

const refusing =
  (error: () => BoardcastError): Authorize =>
  () => {
    throw error();
  };

const tooMany = (details?: unknown) =>
  new BoardcastError('too_many_requests', 'slow down', details === undefined ? undefined : { details });

describe.each(['node', 'fetch'] as const)('Retry-After on the %s adapter', (adapter) => {
  it.each(Object.keys(endpoints) as (keyof typeof endpoints)[])(
    '%s: an authorize refusal with details.retryAfterMs answers 429 with Retry-After in whole seconds, rounded up',
    async (name) => {
      const base = await start(adapter, { authorize: refusing(() => tooMany({ retryAfterMs: 2001 })) });
      const response = await endpoints[name](base);
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('3');
      expect((await response.json()).error).toEqual({ code: 'too_many_requests', message: 'slow down' });
    },
  );

  it.each(Object.keys(endpoints) as (keyof typeof endpoints)[])(
    '%s: a 429 whose error names no wait gets no made-up Retry-After (the rule itself: core/test/retry-after.test.ts)',
    async (name) => {
      const base = await start(adapter, { authorize: refusing(() => tooMany()) });
      const response = await endpoints[name](base);
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBeNull();
      expect((await response.json()).error.code).toBe('too_many_requests');
    },
  );

  it("createTokenAccess's throttle, used as authorize, gets Retry-After on every endpoint", async () => {
    let t = Date.UTC(2026, 0, 1);
    const access = createTokenAccess({
      token: 's3cret',
      cookieName: 'app_session',
      now: () => t,
      throttle: { baseDelayMs: 2500 },
    });
    const base = await start(adapter, { authorize: (request) => access.allows(request) });
    const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
    // One wrong token: 401, and the address must now wait 2.5 s.
    expect((await endpoints.directory(base, bearer('guess'))).status).toBe(401);
    for (const name of Object.keys(endpoints) as (keyof typeof endpoints)[]) {
      const response = await endpoints[name](base, bearer('s3cret'));
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('3');
    }
    t += 1200; // 1.3 s left: still rounded up
    const later = await endpoints.events(base, bearer('s3cret'));
    expect(later.status).toBe(429);
    expect(later.headers.get('retry-after')).toBe('2');
    t += 1300;
    const allowed = await endpoints.directory(base, bearer('s3cret'));
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('retry-after')).toBeNull();
  });

  it('a 503 whose error says how long carries Retry-After; other refusals do not', async () => {
    const errors = [
      new BoardcastError('board_offline', 'the board restarts', { details: { retryAfterMs: 30_000 } }),
      new BoardcastError('forbidden', 'no', { details: { retryAfterMs: 30_000 } }),
    ];
    let next = 0;
    const base = await start(adapter, { authorize: refusing(() => errors[next++ % errors.length] as BoardcastError) });
    const offline = await endpoints.commands(base);
    expect(offline.status).toBe(503);
    expect(offline.headers.get('retry-after')).toBe('30');
    const forbidden = await endpoints.commands(base);
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('retry-after')).toBeNull();
  });

  it("a flood of commands over the hub's commandsPerSecond gets 429 with Retry-After: the seconds until the next token", async () => {
    // One command per 100 s, bursts of 3 (testHub's commandBurst): the refusals come on any machine.
    const base = await start(adapter, {}, 0.01, 3);
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 20 }, () => endpoints.commands(base)));
    const elapsed = performance.now() - started;
    expect(answers.filter((a) => a.status === 200)).toHaveLength(3);
    const refused = answers.filter((a) => a.status !== 200);
    expect(refused).toHaveLength(17);
    // 100 s per token, less the time since the burst was spent, rounded up to whole seconds.
    const earliest = Math.ceil((100_000 - Math.ceil(elapsed)) / 1000);
    for (const answer of refused) {
      expect(answer.status).toBe(429);
      expect((await answer.json()).error).toEqual({
        code: 'too_many_requests',
        message: 'too many commands; slow down',
      });
      const seconds = Number(answer.headers.get('retry-after'));
      expect(seconds).toBeGreaterThanOrEqual(earliest);
      expect(seconds).toBeLessThanOrEqual(100);
    }
    for (const answer of answers.filter((a) => a.status === 200)) expect(answer.headers.get('retry-after')).toBeNull();
  });
});
