import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BoardcastError,
  type ContractSpec,
  Emitter,
  encodeSseComment,
  encodeSseRetry,
  type Hub,
} from '@boardcast/core';
import { FetchConnection } from './fetch-connection.js';
import type { AnyHub } from './hub-like.js';
import { NodeConnection } from './node-connection.js';
import {
  type Authorize,
  type BoardcastRequest,
  errorReply,
  fromFetch,
  fromNode,
  type Reply,
  runAuthorize,
  sendNode,
  toResponse,
} from './request.js';
import { type ClientShared, type DisconnectReason, SseClient, type SseClientInfo } from './sse-client.js';

export interface SseEndpointOptions {
  /**
   * The `retry:` sent first, in ms: how long a browser waits before it
   * reconnects. A `{ min, max }` range gives each client a random value in it
   * so that a restart does not bring every browser back in the same instant.
   * Default 3000.
   */
  readonly retry?: number | { readonly min: number; readonly max: number };
  /** Interval of the `: ping` comment that keeps proxies from closing an idle stream, in ms; 0 turns it off. Default 15000. */
  readonly keepAliveMs?: number;
  /** Open streams allowed at once; the next gets 503 `too_many_clients`. Default 1000. */
  readonly maxClients?: number;
  /** `Retry-After` (seconds) sent with the 503. Default 10. */
  readonly retryAfterSeconds?: number;
  /** Unread bytes one client may hold in server memory before it counts as slow. Default 262144 (256 KiB). */
  readonly highWaterMark?: number;
  /**
   * What happens to a slow client: `disconnect` (default) drops it, and its
   * browser reconnects and resumes; `reset` skips events until it has read
   * its backlog, then sends `reset` and a fresh `snapshot`.
   */
  readonly slowClient?: 'disconnect' | 'reset';
  /** Gatekeeper for each stream; see {@link Authorize}. */
  readonly authorize?: Authorize;
  /** Extra headers on every response (CORS, for example). */
  readonly headers?: Readonly<Record<string, string>>;
}

export type SseEndpointEvents = {
  /** A stream opened (after `authorize` and the limits). */
  connect: (client: SseClientInfo) => void;
  /** A stream closed; `reason` says who closed it. Fires exactly once per `connect`. */
  disconnect: (client: SseClientInfo, reason: DisconnectReason) => void;
  /** A request was refused before a stream opened (limits, auth, bad query). */
  reject: (error: BoardcastError, request: BoardcastRequest) => void;
};

const PING = encodeSseComment('ping');
const EVENT_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

type Prepared = { readonly reply: Reply } | { readonly lastEventId: string | undefined; readonly events?: Set<string> };

/**
 * One SSE endpoint for a hub, served either as a Node `(req, res)` handler
 * or as a Fetch `(Request) => Response` handler. Both feed the same client
 * logic through a small connection adapter.
 */
export class SseEndpoint extends Emitter<SseEndpointEvents> {
  readonly #hub: AnyHub;
  readonly #clients = new Set<SseClient>();
  readonly #shared: ClientShared;
  readonly #keepAliveMs: number;
  readonly #maxClients: number;
  readonly #retryAfter: string;
  readonly #retry: number | { readonly min: number; readonly max: number };
  readonly #retryFrame: string | undefined;
  readonly #authorize: Authorize | undefined;
  readonly #extraHeaders: Readonly<Record<string, string>>;
  readonly #offHubClose: () => void;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #nextId = 0;
  #closed = false;

  constructor(hub: AnyHub, options: SseEndpointOptions = {}) {
    super();
    this.#hub = hub;
    this.#keepAliveMs = nonNegative(options.keepAliveMs ?? 15_000, 'keepAliveMs');
    this.#maxClients = nonNegative(options.maxClients ?? 1000, 'maxClients');
    this.#retryAfter = String(Math.ceil(nonNegative(options.retryAfterSeconds ?? 10, 'retryAfterSeconds')));
    this.#retry = options.retry ?? 3000;
    if (typeof this.#retry === 'number') {
      this.#retryFrame = encodeSseRetry(nonNegative(this.#retry, 'retry'));
    } else if (!(this.#retry.min >= 0 && this.#retry.max >= this.#retry.min)) {
      throw new RangeError('retry range needs 0 <= min <= max');
    }
    this.#authorize = options.authorize;
    this.#extraHeaders = options.headers ?? {};
    this.#shared = {
      hub,
      highWaterMark: nonNegative(options.highWaterMark ?? 256 * 1024, 'highWaterMark'),
      slowClient: options.slowClient ?? 'disconnect',
      remove: (client, reason) => this.#remove(client, reason),
    };
    this.#offHubClose = hub.on('close', () => this.close());
  }

  /** Open streams. */
  get clientCount(): number {
    return this.#clients.size;
  }

  /** A view of every open stream. */
  clients(): SseClientInfo[] {
    return [...this.#clients];
  }

  /** Node handler: node:http, Express (`app.get(path, sse.node)`), Fastify (`reply.hijack()` then `request.raw, reply.raw`). */
  readonly node = (req: IncomingMessage, res: ServerResponse): void => {
    this.#handleNode(req, res).catch((error) => {
      this.#hub.emit('error', error, 'sse-server node handler');
      if (!res.headersSent) sendNode(res, errorReply(new BoardcastError('handler_failed', 'stream failed')));
      else res.destroy();
    });
  };

  /** Fetch handler: Hono (`(c) => sse.fetch(c.req.raw)`), Next.js route handlers, Bun, Deno. */
  readonly fetch = async (request: Request): Promise<Response> => {
    const info = fromFetch(request);
    const prepared = this.#prepare(info);
    if ('reply' in prepared) return toResponse(prepared.reply);
    const auth = await runAuthorize(this.#authorize, info, this.#onAuthError);
    if (!auth.ok) return toResponse(this.#reject(auth.error, info));
    const full = this.#checkCapacity(info);
    if (full) return toResponse(full);

    const client = this.#createClient('fetch', prepared, auth.auth);
    const connection = new FetchConnection(request.signal, (reason) => client.close(reason));
    this.#open(client, connection);
    if (request.signal.aborted) client.close('client');
    return new Response(connection.stream, { status: 200, headers: this.#streamHeaders(false) });
  };

  /** End every stream, stop every timer, refuse new streams. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#offHubClose();
    for (const client of this.#clients) client.close('closed');
    this.#stopKeepAlive();
  }

  async #handleNode(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const info = fromNode(req);
    const prepared = this.#prepare(info);
    if ('reply' in prepared) return sendNode(res, prepared.reply);
    const auth = await runAuthorize(this.#authorize, info, this.#onAuthError);
    if (!auth.ok) return sendNode(res, this.#reject(auth.error, info));
    if (res.destroyed || req.socket.destroyed) return;
    const full = this.#checkCapacity(info);
    if (full) return sendNode(res, full);

    res.writeHead(200, this.#streamHeaders(req.httpVersionMajor === 1));
    // Small frames must leave at once, not wait for Nagle to batch them.
    req.socket.setNoDelay(true);
    const client = this.#createClient('node', prepared, auth.auth);
    this.#open(client, new NodeConnection(req, res, client));
  }

  #prepare(request: BoardcastRequest): Prepared {
    if (request.method !== 'GET') {
      const error = new BoardcastError('method_not_allowed', `${request.method} is not allowed; use GET`);
      return { reply: this.#reject(error, request, { Allow: 'GET' }) };
    }
    const full = this.#checkCapacity(request);
    if (full) return { reply: full };
    const lastEventId = request.header('last-event-id') || request.url.searchParams.get('lastEventId') || undefined;
    const names = request.url.searchParams
      .getAll('events')
      .flatMap((value) => value.split(','))
      .map((name) => name.trim())
      .filter((name) => name !== '');
    if (names.length === 0) return { lastEventId };
    const known = this.#hub.contract.events;
    for (const name of names) {
      if (!EVENT_NAME.test(name) || !Object.hasOwn(known, name)) {
        const error = new BoardcastError('invalid_payload', `unknown event "${name.slice(0, 64)}" in ?events=`);
        return { reply: this.#reject(error, request) };
      }
    }
    return { lastEventId, events: new Set(names) };
  }

  /** Checked before `authorize` (cheap refusal) and again after it (the count may have grown meanwhile). */
  #checkCapacity(request: BoardcastRequest): Reply | undefined {
    const retry = { 'Retry-After': this.#retryAfter };
    if (this.#closed) {
      return this.#reject(new BoardcastError('closed', 'the event stream is shut down'), request, retry, 503);
    }
    if (this.#clients.size < this.#maxClients) return undefined;
    const error = new BoardcastError('too_many_clients', `at most ${this.#maxClients} event streams are allowed`);
    return this.#reject(error, request, retry);
  }

  #reject(
    error: BoardcastError,
    request: BoardcastRequest,
    headers?: Record<string, string>,
    status = error.status,
  ): Reply {
    this.emit('reject', error, request);
    return errorReply(error, { ...this.#extraHeaders, ...headers }, status);
  }

  readonly #onAuthError = (error: unknown): void => {
    this.#hub.emit('error', error, 'sse-server authorize');
  };

  #streamHeaders(http1: boolean): Record<string, string> {
    const headers: Record<string, string> = {
      ...this.#extraHeaders,
      'Content-Type': 'text/event-stream; charset=utf-8',
      // no-transform keeps compression proxies from buffering the stream.
      'Cache-Control': 'no-cache, no-transform',
      // nginx buffers proxied responses unless told not to.
      'X-Accel-Buffering': 'no',
    };
    // HTTP/2 forbids connection-specific headers; Fetch runtimes manage the connection themselves.
    if (http1) headers.Connection = 'keep-alive';
    return headers;
  }

  #createClient(adapter: 'node' | 'fetch', prepared: Prepared, auth: unknown): SseClient {
    const { lastEventId, events } = prepared as Exclude<Prepared, { reply: Reply }>;
    return new SseClient(this.#shared, {
      id: `sse-${++this.#nextId}`,
      adapter,
      lastEventId,
      events,
      auth,
    });
  }

  #randomRetry(): string {
    const range = this.#retry as { readonly min: number; readonly max: number };
    return encodeSseRetry(range.min + Math.random() * (range.max - range.min));
  }

  #open(client: SseClient, connection: NodeConnection | FetchConnection): void {
    this.#clients.add(client);
    this.emit('connect', client);
    this.#startKeepAlive();
    client.start(connection, this.#retryFrame ?? this.#randomRetry());
  }

  #remove(client: SseClient, reason: DisconnectReason): void {
    if (!this.#clients.delete(client)) return;
    if (this.#clients.size === 0) this.#stopKeepAlive();
    this.emit('disconnect', client, reason);
  }

  // One timer for all clients writing one shared comment frame.
  #startKeepAlive(): void {
    if (this.#keepAlive || this.#keepAliveMs === 0) return;
    this.#keepAlive = setInterval(() => {
      for (const client of this.#clients) client.write(PING);
    }, this.#keepAliveMs);
    (this.#keepAlive as { unref?: () => void }).unref?.();
  }

  #stopKeepAlive(): void {
    clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }
}

function nonNegative(value: number, name: string): number {
  if (!(value >= 0)) throw new RangeError(`${name} must be a number >= 0`);
  return value;
}

/** Build the SSE endpoint for a hub. */
export function createSseEndpoint<C extends ContractSpec>(hub: Hub<C>, options: SseEndpointOptions = {}): SseEndpoint {
  return new SseEndpoint(hub as unknown as AnyHub, options);
}
