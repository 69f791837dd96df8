import type { IncomingMessage, ServerResponse } from 'node:http';
import { BoardcastError, type ContractSpec, DEFAULT_CHANNEL, Emitter, type Hub } from '@boardcast/core';
import {
  AddressCounter,
  authorizeRequest,
  checkRequest,
  type EndpointPolicy,
  type EndpointPolicyOptions,
  errorReply,
  fromFetchRequest,
  fromNodeRequest,
  type HttpReply,
  resolvePolicy,
} from '@boardcast/core/server';
import {
  type ChannelSelection,
  credentialExpiry,
  encodeSseKeepAlive,
  encodeSseRetry,
  parseChannelBody,
  parseChannelQuery,
} from '@boardcast/core/wire';
import { readFetchBody, readJsonFrom, readNodeBody } from './body.js';
import type { FastifyReplyLike, FastifyRequestLike } from './command-endpoint.js';
import { type Cors, createCors } from './cors.js';
import { hostEnvironment } from './environment.js';
import { FetchConnection } from './fetch-connection.js';
import type { AnyHub } from './hub-like.js';
import { NodeConnection } from './node-connection.js';
import { type BoardcastRequest, type NodeRequest, type NodeResponse, sendNode, toResponse } from './request.js';
import { type ClientShared, type DisconnectReason, SseClient, type SseClientInfo } from './sse-client.js';

/** Shortest accepted `retry:` (ms): below it a lost server gets a reconnect storm. */
export const MIN_RETRY_MS = 100;
/** Longest accepted `retry:` and `keepAliveMs` (ms): above it a page looks dead for an hour. */
export const MAX_RETRY_MS = 3_600_000;
/** Shortest accepted `keepAliveMs` other than 0 (ms). */
const MIN_KEEPALIVE_MS = 10;

/**
 * The options shared with ws-server (`maxClients`, `maxClientsPerAddress`,
 * `highWaterMark`, `slowClient`, `allowedOrigins`, `allowMissingOrigin`,
 * `allowedHosts`, `authorize`, `closeTimeoutMs`: see core's
 * `EndpointPolicyOptions`), plus the stream's own.
 */
export interface SseEndpointOptions extends EndpointPolicyOptions<IncomingMessage | Request> {
  /**
   * The `retry:` sent first, in ms: how long a browser waits before it
   * reconnects. A `{ min, max }` range gives each client a random value in it
   * so that a restart does not bring every browser back in the same instant.
   * Must lie in 100…3600000 (a `RangeError` at construction otherwise).
   * Default 3000.
   */
  readonly retry?: number | { readonly min: number; readonly max: number };
  /**
   * Interval of the `event: keepalive` frame (ms), which keeps proxies from
   * closing an idle stream and tells the client how often to expect it, so
   * it can notice a silent link. A stream whose unsent data has not moved
   * for two intervals is dropped (`disconnect` reason `timeout`); the socket
   * also gets TCP keep-alive with this idle time. 0 turns all of it off
   * (the first frame then says `{"intervalMs":0}`). 0 or 10…3600000.
   * Default 15000.
   */
  readonly keepAliveMs?: number;
  /** `Retry-After` (seconds) sent with a 503. Default 10. */
  readonly retryAfterSeconds?: number;
  /** Extra headers on every response (CORS, for example). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Largest accepted body of `POST …/events` (the channel list of a large
   * set), in bytes; larger gets 413 `payload_too_large` and nothing of the
   * rest is buffered. Default 262144 (1000 channels with 128-byte ids and
   * a `since` each fit).
   */
  readonly maxBodyBytes?: number;
}

export type SseEndpointEvents = {
  /** A stream opened (after `authorize` and the limits). */
  connect: (client: SseClientInfo) => void;
  /** A stream closed; `reason` says who closed it. Fires exactly once per `connect`. */
  disconnect: (client: SseClientInfo, reason: DisconnectReason) => void;
  /** A request was refused before a stream opened (host, origin, limits, auth, bad query). */
  reject: (error: BoardcastError, request: BoardcastRequest) => void;
};

/** Longest accepted `Last-Event-ID`; a longer one is treated as foreign (reset + snapshot), never refused. */
const MAX_ID_LENGTH = 256;
/** Stands in for a resume id we will not parse: foreign to every bus, so the hub answers reset + snapshot. */
const FOREIGN_ID = 'foreign';
const EVENT_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** What a Fetch runtime knows about the connection beside the `Request`. */
export interface FetchConnectionInfo {
  /** The peer's IP address, if the runtime tells it. */
  readonly remoteAddress?: string | undefined;
}

type Prepared =
  | { readonly reply: HttpReply }
  | {
      readonly lastEventId: string | undefined;
      readonly events?: Set<string>;
      /** The channels of `?channels=` (GET); a POST's come from its body. */
      readonly selection?: ChannelSelection | undefined;
      readonly post: boolean;
    };
type Accepted = Exclude<Prepared, { reply: HttpReply }>;

/**
 * One SSE endpoint for a hub, served either as a Node `(req, res)` handler
 * or as a Fetch `(Request) => Response` handler. Both feed the same client
 * logic through a small connection adapter.
 */
export class SseEndpoint extends Emitter<SseEndpointEvents> {
  /** The options after defaults, as every check uses them. */
  readonly policy: EndpointPolicy<IncomingMessage | Request>;
  readonly #hub: AnyHub;
  readonly #clients = new Set<SseClient>();
  readonly #perAddress: AddressCounter;
  readonly #shared: ClientShared;
  readonly #keepAliveMs: number;
  readonly #keepAliveFrame: string;
  readonly #retryAfter: string;
  readonly #retry: number | { readonly min: number; readonly max: number };
  readonly #retryFrame: string | undefined;
  readonly #extraHeaders: Readonly<Record<string, string>>;
  readonly #cors: Cors;
  readonly #maxBodyBytes: number;
  readonly #offHubClose: () => void;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #nextId = 0;
  #closing: Promise<void> | undefined;

  constructor(hub: AnyHub, options: SseEndpointOptions = {}) {
    super();
    this.#hub = hub;
    this.policy = resolvePolicy('@boardcast/sse-server', options, hostEnvironment());
    const keepAliveMs = options.keepAliveMs ?? 15_000;
    if (keepAliveMs !== 0) inRange(keepAliveMs, 'keepAliveMs', MIN_KEEPALIVE_MS);
    this.#keepAliveMs = keepAliveMs;
    this.#keepAliveFrame = encodeSseKeepAlive(keepAliveMs);
    this.#retryAfter = String(Math.ceil(nonNegative(options.retryAfterSeconds ?? 10, 'retryAfterSeconds')));
    this.#retry = options.retry ?? 3000;
    if (typeof this.#retry === 'number') {
      this.#retryFrame = encodeSseRetry(inRange(this.#retry, 'retry'));
    } else {
      inRange(this.#retry.min, 'retry.min');
      inRange(this.#retry.max, 'retry.max');
      if (!(this.#retry.max >= this.#retry.min)) {
        throw new RangeError('@boardcast/sse-server: retry range needs min <= max');
      }
    }
    this.#extraHeaders = options.headers ?? {};
    this.#cors = createCors(this.policy.allowedOrigins, 'GET, POST');
    this.#maxBodyBytes = nonNegative(options.maxBodyBytes ?? 262_144, 'maxBodyBytes');
    this.#perAddress = new AddressCounter(this.policy.maxClientsPerAddress);
    this.#shared = {
      hub,
      highWaterMark: this.policy.highWaterMark,
      slowClient: this.policy.slowClient,
      remove: (client, reason) => this.#remove(client, reason),
    };
    this.#offHubClose = hub.on('close', () => void this.close());
  }

  /** Open streams. */
  get clientCount(): number {
    return this.#clients.size;
  }

  /** A view of every open stream. */
  clients(): SseClientInfo[] {
    return [...this.#clients];
  }

  /**
   * Node handler: node:http, node:http2 (`createSecureServer`), Express
   * (`app.get(path, sse.node)`), Fastify (`reply.hijack()` then
   * `request.raw, reply.raw`).
   */
  readonly node = (request: NodeRequest, response: NodeResponse): void => {
    // HTTP/2's compatibility objects offer what is used here (see node-connection.ts).
    const req = request as IncomingMessage;
    const res = response as ServerResponse;
    this.#handleNode(req, res).catch((error) => {
      this.#hub.emit('error', error, 'sse-server node handler');
      if (!res.headersSent) sendNode(res, errorReply(new BoardcastError('handler_failed', 'stream failed')));
      else res.destroy();
    });
  };

  /** Fastify route handler: `app.get('/api/events', sse.fastify)` (hijacks the reply; no fastify dependency). */
  readonly fastify = (request: FastifyRequestLike, reply: FastifyReplyLike): void => {
    reply.hijack();
    this.node(request.raw, reply.raw);
  };

  /**
   * Fetch handler: Hono (`(c) => sse.fetch(c.req.raw)`), Next.js route
   * handlers, Bun, Deno. A `Request` carries no peer address; pass it as
   * `remoteAddress` (Hono: `getConnInfo(c).remote.address`) for
   * `maxClientsPerAddress` and `client.remoteAddress`.
   */
  readonly fetch = async (request: Request, peer: FetchConnectionInfo = {}): Promise<Response> => {
    const info = fromFetchRequest(request, this.policy.proxy, peer.remoteAddress);
    const address = info.clientAddress;
    const prepared = this.#prepare(info);
    if ('reply' in prepared) return toResponse(prepared.reply);
    const early = this.#checkCapacity(info, address);
    if (early) return toResponse(early);
    const auth = await authorizeRequest(this.policy.authorize, info, this.#onAuthError);
    if (!auth.ok) return toResponse(this.#reject(auth.error, info));
    const admitted = await this.#admit(info, prepared, auth.auth, (limit) => readFetchBody(request, limit));
    if ('reply' in admitted) return toResponse(admitted.reply);
    const full = this.#checkCapacity(info, address);
    if (full) return toResponse(full);

    const client = this.#createClient('fetch', admitted, auth.auth, address);
    const connection = new FetchConnection(request.signal, (reason) => client.close(reason));
    this.#open(client, connection);
    if (request.signal.aborted) client.close('client');
    return new Response(connection.stream, { status: 200, headers: this.#streamHeaders(info, false) });
  };

  /**
   * End every stream, stop every timer and answer later requests with 503
   * `closed`. Resolves once every stream has closed; a peer that does not
   * take the end of its stream within `closeTimeoutMs` is destroyed, so
   * this settles in bounded time whatever the peers do. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#offHubClose();
    this.#stopKeepAlive();
    const clients = [...this.#clients];
    this.#closing = Promise.all(clients.map((client) => client.shutdown(this.policy.closeTimeoutMs))).then(
      () => undefined,
    );
    return this.#closing;
  }

  async #handleNode(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const info = fromNodeRequest(req, this.policy.proxy);
    const prepared = this.#prepare(info);
    if ('reply' in prepared) return sendNode(res, prepared.reply);
    const address = info.clientAddress; // the peer, or with trustProxy the client behind the proxy
    const early = this.#checkCapacity(info, address);
    if (early) return sendNode(res, early);
    const auth = await authorizeRequest(this.policy.authorize, info, this.#onAuthError);
    if (!auth.ok) return sendNode(res, this.#reject(auth.error, info));
    const admitted = await this.#admit(info, prepared, auth.auth, (limit) => readNodeBody(req, limit));
    if ('reply' in admitted) {
      // An unread (refused) body must not be parsed as the next request.
      if (!req.readableEnded && req.httpVersionMajor === 1) res.setHeader('Connection', 'close');
      return sendNode(res, admitted.reply);
    }
    if (res.destroyed || req.socket.destroyed) return;
    const full = this.#checkCapacity(info, address);
    if (full) return sendNode(res, full);

    res.writeHead(200, this.#streamHeaders(info, req.httpVersionMajor === 1));
    // Small frames must leave at once, not wait for Nagle to batch them.
    req.socket.setNoDelay(true);
    // Lets the kernel find a peer that vanished while the stream was idle.
    if (this.#keepAliveMs > 0) req.socket.setKeepAlive(true, this.#keepAliveMs);
    const client = this.#createClient('node', admitted, auth.auth, address);
    this.#open(client, new NodeConnection(req, res, client));
  }

  #prepare(request: BoardcastRequest): Prepared {
    const refused = checkRequest(this.policy, request);
    if (refused) return { reply: this.#reject(refused, request) };
    if (request.method === 'OPTIONS') return { reply: this.#cors.preflight(request) };
    if (request.method !== 'GET' && request.method !== 'POST') {
      const error = new BoardcastError('method_not_allowed', `${request.method} is not allowed; use GET or POST`);
      return { reply: this.#reject(error, request, { Allow: 'GET, POST, OPTIONS' }) };
    }
    const post = request.method === 'POST';
    const full = this.#checkCapacity(request, undefined);
    if (full) return { reply: full };
    let lastEventId = request.header('last-event-id') || request.url.searchParams.get('lastEventId') || undefined;
    // An id we will not even look up is foreign, not an error: refusing it
    // would make the browser repeat the same request for ever.
    if (lastEventId !== undefined && lastEventId.length > MAX_ID_LENGTH) lastEventId = FOREIGN_ID;
    let selection: ChannelSelection | undefined;
    if (!post) {
      try {
        selection = parseChannelQuery(request.url.searchParams, lastEventId);
      } catch (error) {
        return { reply: this.#reject(error as BoardcastError, request) };
      }
    }
    const names = request.url.searchParams
      .getAll('events')
      .flatMap((value) => value.split(','))
      .map((name) => name.trim())
      .filter((name) => name !== '');
    if (names.length === 0) return { lastEventId, selection, post };
    const known = this.#hub.contract.events;
    for (const name of names) {
      if (!EVENT_NAME.test(name) || !Object.hasOwn(known, name)) {
        const error = new BoardcastError('invalid_payload', `unknown event "${name.slice(0, 64)}" in ?events=`);
        return { reply: this.#reject(error, request) };
      }
    }
    return { lastEventId, events: new Set(names), selection, post };
  }

  /**
   * After `authorize`: a POST's channel list from its body, and for a
   * stream that names no channels, whether the viewer may see the default
   * channel at all (403 `forbidden` now, so a browser stops instead of
   * reconnecting to a stream that would end at once).
   */
  async #admit(
    request: BoardcastRequest,
    prepared: Accepted,
    auth: unknown,
    readBody: (limit: number) => Promise<string>,
  ): Promise<{ readonly reply: HttpReply } | Accepted> {
    if (prepared.post) {
      let selection: ChannelSelection;
      try {
        const body = await readJsonFrom(
          { header: (name) => request.header(name), read: readBody },
          { maxBytes: this.#maxBodyBytes, what: 'the channel list' },
        );
        selection = parseChannelBody(body, request.header('last-event-id') || undefined);
      } catch (error) {
        const refusal =
          error instanceof BoardcastError
            ? error
            : new BoardcastError('invalid_payload', 'the channel list could not be read');
        return { reply: this.#reject(refusal, request) };
      }
      return { ...prepared, selection };
    }
    if (prepared.selection) return prepared;
    let visible: boolean;
    try {
      visible = (await this.#hub.access.canSee(auth, DEFAULT_CHANNEL)) === true;
    } catch (error) {
      this.#hub.emit('error', error, 'access.canSee');
      visible = false;
    }
    if (visible) return prepared;
    const error = new BoardcastError('forbidden', `channel "${DEFAULT_CHANNEL}" is not yours to see`);
    return { reply: this.#reject(error, request) };
  }

  /** Checked before `authorize` (cheap refusal) and again after it (the count may have grown meanwhile). */
  #checkCapacity(request: BoardcastRequest, address: string | undefined): HttpReply | undefined {
    const retry = { 'Retry-After': this.#retryAfter };
    if (this.#closing) {
      return this.#reject(new BoardcastError('closed', 'the event stream is shut down'), request, retry, 503);
    }
    const { maxClients, maxClientsPerAddress } = this.policy;
    if (this.#clients.size >= maxClients) {
      const error = new BoardcastError('too_many_clients', `at most ${maxClients} event streams are allowed`);
      return this.#reject(error, request, retry);
    }
    if (address !== undefined && this.#perAddress.count(address) >= maxClientsPerAddress) {
      const error = new BoardcastError(
        'too_many_clients',
        `at most ${maxClientsPerAddress} event streams are allowed per address`,
      );
      return this.#reject(error, request, retry);
    }
    return undefined;
  }

  #reject(
    error: BoardcastError,
    request: BoardcastRequest,
    headers?: Record<string, string>,
    status = error.status,
  ): HttpReply {
    this.emit('reject', error, request);
    // An allowed origin may read why (401 stops its client); a refused one gets nothing more than before.
    return errorReply(error, { ...this.#extraHeaders, ...this.#cors.headers(request), ...headers }, status);
  }

  readonly #onAuthError = (error: unknown): void => {
    this.#hub.emit('error', error, 'sse-server authorize');
  };

  #streamHeaders(request: BoardcastRequest, http1: boolean): Record<string, string> {
    const headers: Record<string, string> = {
      ...this.#extraHeaders,
      ...this.#cors.headers(request),
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

  #createClient(adapter: 'node' | 'fetch', prepared: Accepted, auth: unknown, address: string | undefined): SseClient {
    const { lastEventId, events, selection } = prepared;
    return new SseClient(this.#shared, {
      id: `sse-${++this.#nextId}`,
      adapter,
      remoteAddress: address,
      lastEventId,
      events,
      auth,
      selection,
      expiresAt: credentialExpiry(auth),
    });
  }

  #randomRetry(): string {
    const range = this.#retry as { readonly min: number; readonly max: number };
    return encodeSseRetry(range.min + Math.random() * (range.max - range.min));
  }

  #open(client: SseClient, connection: NodeConnection | FetchConnection): void {
    this.#clients.add(client);
    this.#perAddress.acquire(client.remoteAddress);
    this.emit('connect', client);
    this.#startKeepAlive();
    client.start(connection, (this.#retryFrame ?? this.#randomRetry()) + this.#keepAliveFrame);
  }

  #remove(client: SseClient, reason: DisconnectReason): void {
    if (!this.#clients.delete(client)) return;
    this.#perAddress.release(client.remoteAddress);
    if (this.#clients.size === 0) this.#stopKeepAlive();
    this.emit('disconnect', client, reason);
  }

  // One timer for all clients: it writes one shared keep-alive frame and
  // drops streams whose unsent data has stopped moving (a dead peer).
  #startKeepAlive(): void {
    if (this.#keepAlive || this.#keepAliveMs === 0) return;
    this.#keepAlive = setInterval(() => {
      for (const client of this.#clients) {
        if (client.checkProgress()) client.write(this.#keepAliveFrame);
      }
    }, this.#keepAliveMs);
    (this.#keepAlive as { unref?: () => void }).unref?.();
  }

  #stopKeepAlive(): void {
    clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }
}

function nonNegative(value: number, name: string): number {
  if (!(value >= 0)) throw new RangeError(`@boardcast/sse-server: ${name} must be a number >= 0`);
  return value;
}

function inRange(value: number, name: string, min = MIN_RETRY_MS): number {
  if (!(Number.isFinite(value) && value >= min && value <= MAX_RETRY_MS)) {
    throw new RangeError(
      `@boardcast/sse-server: ${name} must be between ${min} and ${MAX_RETRY_MS} ms (got ${String(value)})`,
    );
  }
  return value;
}

/** Build the SSE endpoint for a hub. */
export function createSseEndpoint<C extends ContractSpec>(hub: Hub<C>, options: SseEndpointOptions = {}): SseEndpoint {
  return new SseEndpoint(hub as unknown as AnyHub, options);
}
