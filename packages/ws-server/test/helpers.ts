import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHub, defineContract, ERROR_CODES, isErrorCode, typed } from '@boardcast/core';
import { WS_PROTOCOL } from '@boardcast/core/wire';
import { type ClientOptions, WebSocket } from 'ws';
import { z } from 'zod';
import { channelFleet } from '../../../test-support/channel-fleet.js';
import { waitFor } from '../../../test-support/wait.js';
import { createWsEndpoint, type WsDisconnectReason, type WsEndpoint, type WsEndpointOptions } from '../src/index.js';

export const contract = defineContract({
  events: {
    led: typed<{ on: boolean }>(),
    time: typed<string>(),
    blob: typed<string>(),
  },
  commands: {
    led: { input: z.object({ state: z.enum(['on', 'off', 'toggle']) }), result: typed<{ on: boolean }>() },
    wait: { input: typed<{ ms: number }>(), result: typed<string>() },
    hang: { input: typed<null>(), result: typed<string>() },
    whoami: { input: typed<null>(), result: typed<{ auth: unknown; clientId: unknown; transport: string }>() },
    crash: { input: typed<null>(), result: typed<string>() },
  },
  state: typed<{ led: { on: boolean } }>(),
});

function createTestHub(options: { history?: number; commandTimeoutMs?: number }) {
  return createHub(contract, { state: { led: { on: false } }, ...options });
}

export type TestHub = ReturnType<typeof createTestHub>;

/** Resources opened by a test, closed in afterEach whatever happened. */
const open: Array<() => Promise<unknown> | unknown> = [];

export async function closeAll(): Promise<void> {
  while (open.length > 0) {
    const close = open.pop()!;
    await close();
  }
}

export function makeHub(options: { history?: number; commandTimeoutMs?: number } = {}): TestHub {
  const hub = createTestHub(options);
  hub.handle('led', ({ state }) => {
    const on = state === 'toggle' ? !hub.state.led.on : state === 'on';
    hub.setState({ led: { on } });
    void hub.publish('led', { on });
    return { on };
  });
  hub.handle('wait', ({ ms }, { signal }) => {
    return new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve(`waited ${ms}`), ms);
      signal.addEventListener('abort', () => clearTimeout(timer));
    });
  });
  hub.handle('hang', (_input, { signal }) => {
    // Never answers by itself; ends when the hub aborts it (timeout).
    return new Promise<string>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
  });
  hub.handle('whoami', (_input, context) => ({
    auth: context.auth,
    clientId: context.clientId,
    transport: context.transport,
  }));
  hub.handle('crash', () => {
    throw new Error('secret internal detail');
  });
  open.push(() => hub.close());
  return hub;
}

export interface Setup {
  hub: TestHub;
  server: Server;
  endpoint: WsEndpoint;
  port: number;
  url: string;
}

export async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  open.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

export async function setup(options: WsEndpointOptions = {}, hub: TestHub = makeHub()): Promise<Setup> {
  const server = createServer((_req, res) => res.end('page'));
  const endpoint = createWsEndpoint(hub, { server, ...options });
  open.push(() => endpoint.close());
  const port = await listen(server);
  return { hub, server, endpoint, port, url: `ws://127.0.0.1:${port}${endpoint.path}` };
}

/**
 * The shared channel fleet (test-support/channel-fleet.ts: board-1 and
 * board-2; alice sees everything, bob board-1 only, carol both) behind a WS
 * endpoint on a real server. The user is the `user` query parameter (a test
 * stand-in for a session), with `&expiresAt=<ms>` a credential that expires.
 * `disconnects`: every `disconnect` event's user and reason; `access`: the
 * fleet's own table (not one passed as `hubOptions.access`).
 */
export async function fleetSetup(hubOptions: Parameters<typeof channelFleet>[0] = {}, options: WsEndpointOptions = {}) {
  const { hub, access, ran } = channelFleet(hubOptions);
  const server = createServer((_req, res) => res.end('page'));
  const endpoint = createWsEndpoint(hub, {
    server,
    authorize: (request) => {
      const user = request.url.searchParams.get('user');
      if (!user) return false;
      const expires = request.url.searchParams.get('expiresAt');
      return expires ? { id: user, expiresAt: Number(expires) } : user;
    },
    ...options,
  });
  const port = await listen(server);
  const disconnects: { user: unknown; reason: WsDisconnectReason }[] = [];
  endpoint.on('disconnect', (client, reason) => disconnects.push({ user: client.auth, reason }));
  return {
    hub,
    access,
    ran,
    endpoint,
    disconnects,
    url: (query: string) => `ws://127.0.0.1:${port}/ws?${query}`,
    close: async () => {
      await endpoint.close();
      await hub.close();
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: parsed server frames are inspected loosely in tests
export type Frame = Record<string, any>;

/** A real `ws` client that records every parsed frame. */
export class TestClient {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  readonly raw: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  closeInfo: { code: number; reason: string } | undefined;

  constructor(url: string, options: ClientOptions & { protocols?: string | string[] } = {}) {
    const { protocols = WS_PROTOCOL, ...rest } = options;
    this.ws = new WebSocket(url, protocols, rest);
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const text = data.toString();
      this.raw.push(text);
      try {
        this.frames.push(JSON.parse(text) as Frame);
      } catch {
        this.frames.push({ type: 'not-json', text });
      }
    });
    this.ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code: number, reason: Buffer) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
      });
    });
    open.push(() => {
      if (this.ws.readyState !== WebSocket.CLOSED) {
        this.ws.terminate();
        return this.closed;
      }
    });
  }

  static async open(url: string, options: ClientOptions & { protocols?: string | string[] } = {}): Promise<TestClient> {
    const client = new TestClient(url, options);
    await new Promise<void>((resolve, reject) => {
      client.ws.once('open', () => resolve());
      client.ws.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)));
      client.ws.once('error', reject);
    });
    return client;
  }

  send(value: unknown): void {
    this.ws.send(typeof value === 'string' ? value : JSON.stringify(value));
  }

  /** Wait for the first frame (from `from` on) matching `predicate`. */
  async next(predicate: (frame: Frame) => boolean, from = 0): Promise<Frame> {
    let found: Frame | undefined;
    await waitFor(
      () => {
        found = this.frames.slice(from).find(predicate);
        return found !== undefined;
      },
      `frame matching ${predicate.toString()}; got ${JSON.stringify(this.frames.slice(-5)).slice(0, 500)}`,
    );
    return found!;
  }

  result(id: string | number): Promise<Frame> {
    return this.next((f) => f.type === 'result' && f.id === id);
  }

  events(): Frame[] {
    return this.frames.filter((f) => f.type === 'event');
  }
}

export { waitFor };

/**
 * Attempt an upgrade that should be refused; resolves with the HTTP status
 * and parsed body — or, for a refusal told inside the socket (any refusal
 * of a browser that offered boardcast.v1, see refuse-in-band.ts), with that
 * error's HTTP status in core's table, its `error` envelope, `inBand: true`,
 * once the server has closed the socket with the table's close code (1008
 * for the final ones, 1013 for "later", 1011 for handler_failed …).
 * `headers`: the HTTP answer's (none for a refusal told in band).
 */
export function refusal(
  url: string,
  options: ClientOptions & { protocols?: string | string[] } = {},
): Promise<{ status: number; body: Frame; headers?: IncomingHttpHeaders; inBand?: boolean }> {
  const { protocols = WS_PROTOCOL, ...rest } = options;
  const ws = new WebSocket(url, protocols, rest);
  ws.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      const frames: Frame[] = [];
      ws.on('message', (data) => frames.push(JSON.parse(String(data)) as Frame));
      ws.once('close', (code) => {
        const error = (frames[0] as { error?: { code?: string } } | undefined)?.error;
        const known = error?.code !== undefined && isErrorCode(error.code) ? ERROR_CODES[error.code] : undefined;
        // Told in band: one error envelope, then the close code core's table gives that error.
        if (!known || code !== known.close || frames.length !== 1) {
          reject(new Error(`upgrade unexpectedly succeeded (close ${code}, ${frames.length} frames)`));
          return;
        }
        resolve({ status: known.status, body: frames[0] as Frame, inBand: true });
      });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as Frame, headers: res.headers });
        ws.terminate();
      });
    });
  });
}

/**
 * An `authorize` that holds every upgrade until `release()`: the upgrades
 * stay in authorization while a test looks at what the endpoint does
 * meanwhile. `calls` counts the upgrades that reached it.
 */
export function heldAuthorize() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const held = {
    calls: 0,
    authorize: () => {
      held.calls++;
      return gate;
    },
    release: () => open(),
  };
  return held;
}
