import type { IncomingMessage, ServerResponse } from 'node:http';
import { BoardcastError, type ContractSpec, type DirectoryQuery, Emitter, type Hub } from '@boardcast/core';
import type { AllowedHosts, AllowedOrigins, TrustProxy } from '@boardcast/core/server';
import { directoryQueryOf } from '@boardcast/core/wire';
import type { FastifyReplyLike, FastifyRequestLike } from './command-endpoint.js';
import type { AnyHub } from './hub-like.js';
import { type JsonEndpoint, type JsonHandler, jsonEndpoint } from './json-endpoint.js';
import { type Authorize, type BoardcastRequest, jsonReply, type Reply } from './request.js';
import type { FetchConnectionInfo } from './sse-endpoint.js';

export interface DirectoryEndpointOptions {
  /** Origins allowed to read the directory (core's `AllowedOrigins`, as for the stream). Default `'same-host'`. */
  readonly allowedOrigins?: AllowedOrigins<IncomingMessage | Request>;
  /** Accept requests without `Origin` (curl, scripts). Default true. */
  readonly allowMissingOrigin?: boolean;
  /** Extra `Host` names this server answers to (core's `AllowedHosts`). */
  readonly allowedHosts?: AllowedHosts;
  /**
   * Reverse proxies whose `X-Forwarded-*` headers are believed (core's
   * `TrustProxy`, the same option in every endpoint): addresses, CIDR ranges
   * or `'loopback'`. Default: none.
   */
  readonly trustProxy?: TrustProxy;
  /** Who the client is; its value is the principal the hub's access policy filters the page for. */
  readonly authorize?: Authorize;
  /** Extra headers on every response. */
  readonly headers?: Readonly<Record<string, string>>;
}

export type DirectoryEndpointEvents = {
  /** A request was refused (host, origin, method, `authorize`, bad query). */
  reject: (error: BoardcastError, request: BoardcastRequest) => void;
};

/**
 * `GET …/directory?offset=&limit=&kind=&status=` → 200 and the page of the
 * hub's directory the principal may see (`{"entries":[…],"total":n}`,
 * entries sorted by id, `limit` at most 1000; core's `hub.directoryPage`).
 * Entries of channels the access policy hides from the principal are left
 * out of the page and of `total`. The same Host, Origin and `authorize`
 * checks as the stream; a malformed query is 400 `invalid_payload`.
 */
export class DirectoryEndpoint extends Emitter<DirectoryEndpointEvents> {
  readonly #hub: AnyHub;
  readonly #http: JsonEndpoint;
  readonly #handler: JsonHandler = {
    run: (info) => this.#run(info),
    crashed: (error) => this.#crashed(error),
  };

  constructor(hub: AnyHub, options: DirectoryEndpointOptions = {}) {
    super();
    this.#hub = hub;
    this.#http = jsonEndpoint(hub, '@boardcast/sse-server directory', 'GET', options);
  }

  /** Node handler: node:http, Express (`app.get('/api/directory', directory.node)`). */
  readonly node = (req: IncomingMessage, res: ServerResponse): void => {
    this.#http.node(req, res, this.#handler, false);
  };

  /** Fastify route handler: `app.get('/api/directory', directory.fastify)`. */
  readonly fastify = (request: FastifyRequestLike, reply: FastifyReplyLike): void => {
    reply.hijack();
    this.node(request.raw, reply.raw);
  };

  /** Fetch handler: Hono (`(c) => directory.fetch(c.req.raw)`), Next.js, Bun, Deno. */
  readonly fetch = (request: Request, peer: FetchConnectionInfo = {}): Promise<Response> =>
    this.#http.fetch(request, peer.remoteAddress, this.#handler);

  async #run(info: BoardcastRequest): Promise<Reply> {
    const refuse = (error: BoardcastError, headers?: Record<string, string>): Reply => {
      this.emit('reject', error, info);
      return this.#http.error(error, headers);
    };
    const stop = this.#http.screen(info, refuse);
    if (stop) return stop;
    let query: DirectoryQuery;
    try {
      query = directoryQueryOf(info.url.searchParams) ?? {};
    } catch (error) {
      return refuse(error as BoardcastError);
    }
    const auth = await this.#http.authorize(info);
    if (!auth.ok) return refuse(auth.error);
    const page = await this.#hub.directoryPage(query, auth.auth);
    return jsonReply(200, JSON.stringify(page), this.#http.headers);
  }

  #crashed(error: unknown): Reply {
    this.#hub.emit('error', error, 'sse-server directory endpoint');
    return this.#http.error(new BoardcastError('handler_failed', 'directory failed'));
  }
}

/** Build the directory endpoint for a hub. */
export function createDirectoryEndpoint<C extends ContractSpec>(
  hub: Hub<C>,
  options: DirectoryEndpointOptions = {},
): DirectoryEndpoint {
  return new DirectoryEndpoint(hub as unknown as AnyHub, options);
}
