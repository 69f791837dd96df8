import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BoardcastError,
  type Contract,
  type ContractSpec,
  createHub,
  defineContract,
  type ErrorCode,
  type Hub,
  typed,
} from '@boardcast/core';
import { type BoardcastHttpOptions, boardcastHttp } from '@boardcast/sse-server';
import { createWsEndpoint, type WsEndpointOptions } from '@boardcast/ws-server';
import { z } from 'zod';
import type { BoardcastClient, StatusChange } from '../src/index.js';

export const contract = defineContract({
  events: {
    led: typed<{ on: boolean }>(),
    pin_change: typed<{ pin: string; value: 0 | 1 }>(),
    tick: typed<number>(),
  },
  commands: {
    led: { input: z.object({ state: z.enum(['on', 'off', 'toggle']) }), result: typed<{ on: boolean }>() },
    fail: { input: typed<{ code: string }>(), result: typed<null>() },
    slow: { input: typed<{ ms: number }>(), result: typed<string>() },
    echo: { input: typed<unknown>(), result: typed<unknown>() },
  },
  state: typed<{ led: { on: boolean }; tick: number; pins: Record<string, 0 | 1> }>(),
  // Folded by the hub and by every client's mirror alike.
  reducers: {
    led: (state, led) => ({ ...state, led }),
    tick: (state, tick) => ({ ...state, tick }),
    // pin_change has none: it leaves the state alone (the oversized-event tests rely on that).
  },
});
/** The spec behind the contract: what `connect` and `createHub` infer as `C`. */
export type TestContract = typeof contract extends Contract<infer S> ? S : never;

export function makeHub(history = 1000): Hub<TestContract> {
  const hub = createHub(contract, {
    state: { led: { on: false }, tick: 0, pins: {} },
    history,
    commandTimeoutMs: 2000,
  });
  hub.handle('led', ({ state }) => {
    const on = state === 'toggle' ? !hub.state.led.on : state === 'on';
    hub.publish('led', { on });
    return { on };
  });
  hub.handle('fail', ({ code }) => {
    if (code === 'crash') throw new Error('boom');
    throw new BoardcastError(code as ErrorCode, `failed with ${code}`);
  });
  hub.handle(
    'slow',
    ({ ms }, { signal }) =>
      new Promise((resolve) => {
        const t = setTimeout(() => resolve(`slept ${ms}`), ms);
        signal.addEventListener('abort', () => clearTimeout(t));
      }),
  );
  hub.handle('echo', (input) => input);
  return hub;
}

/** Publish a tick; the contract's reducer folds it into the state (hub and clients). */
export function tick(hub: Hub<TestContract>, n: number): Promise<string> {
  return hub.publish('tick', n);
}

export interface TestServer {
  readonly port: number;
  /** Base URL the client is given: `http://<host>:<port>/api`. */
  readonly url: string;
  readonly server: Server;
  /** Stop abruptly: every open stream and socket is cut, the port is released. */
  kill(): Promise<void>;
}

export interface ServeOptions {
  /** The address to listen on (default 127.0.0.1). */
  readonly host?: string;
  readonly port?: number;
  readonly http?: BoardcastHttpOptions;
  readonly ws?: WsEndpointOptions;
  /** Answer other paths (pages, bundles) before the API. */
  readonly extra?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/** sse-server and ws-server on one real HTTP server (127.0.0.1 unless `host`), both mounted at /api. */
export async function serve<C extends ContractSpec>(hub: Hub<C>, options: ServeOptions = {}): Promise<TestServer> {
  const api = boardcastHttp(hub, { base: '/api', ...options.http, sse: { retry: 100, ...options.http?.sse } });
  const server = createServer((req, res) => {
    if (options.extra?.(req, res)) return;
    api.node(req, res);
  });
  const ws = createWsEndpoint(hub, { server, path: '/api/ws', ...options.ws });
  const host = options.host ?? '127.0.0.1';
  server.listen(options.port ?? 0, host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host}:${port}/api`,
    server,
    async kill() {
      const closed = new Promise((resolve) => server.close(resolve));
      api.close();
      await ws.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

/** {@link makeHub} served by {@link serve}; both are closed after the test (`afterEach(runCleanups)`). */
export async function startHub(options: ServeOptions & { history?: number } = {}) {
  const hub = makeHub(options.history);
  const server = await serve(hub, options);
  cleanups.push(
    () => server.kill(),
    () => hub.close(),
  );
  return { hub, server };
}

/** A bare HTTP server for responses the real endpoints never give (204, odd streams). */
export async function rawServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    server,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A {@link rawServer}, closed after the test, that counts the requests it
 * gets: `handler` is told each one's number (from 1), `requests` how many so far.
 */
export async function countingServer(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void) {
  let requests = 0;
  const raw = await rawServer((req, res) => handler(req, res, ++requests));
  cleanups.push(() => raw.close());
  return {
    ...raw,
    get requests() {
      return requests;
    },
  };
}

/** Poll until `check` stops throwing / returns truthy; fails with the last error after `ms`. */
export async function until<T>(check: () => T, ms = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw last ?? new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Undo steps for the current test, run in reverse by `afterEach(runCleanups)`. */
export const cleanups: (() => unknown)[] = [];

export async function runCleanups(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

/** Record what a client reports (events, ids, statuses, resets, errors); the client is closed after the test. */
export function track(client: BoardcastClient<TestContract>) {
  const ticks: number[] = [];
  const ids: string[] = [];
  const statuses: StatusChange[] = [];
  const resets: string[] = [];
  const errors: BoardcastError[] = [];
  client.on('tick', (n, id) => {
    ticks.push(n);
    ids.push(id);
  });
  client.on('reset', (reason) => resets.push(reason));
  client.on('error', (e) => errors.push(e));
  client.onStatus((s) => statuses.push(s));
  cleanups.push(() => client.close());
  return { ticks, ids, statuses, resets, errors };
}

/** The code a command promise settled with: `resolved`, or the BoardcastError's code. */
export const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof BoardcastError ? e.code : `not a BoardcastError: ${String(e)}`),
  );
