import type { IncomingMessage, ServerResponse } from 'node:http';
import { BoardcastError, type ContractSpec, type DirectoryQuery, Emitter, type Hub } from '@boardcast/core';
import { type HttpReply, jsonReply } from '@boardcast/core/server';
import { directoryQueryOf } from '@boardcast/core/wire';
import type { FastifyReplyLike, FastifyRequestLike } from './command-endpoint.js';
import type { AnyHub } from './hub-like.js';
import { type JsonEndpoint, type JsonEndpointOptions, type JsonHandler, jsonEndpoint } from './json-endpoint.js';
import type { BoardcastRequest } from './request.js';
import type { FetchConnectionInfo } from './sse-endpoint.js';

/** The shared endpoint options: Host, Origin, trusted proxies, `authorize`, headers (see {@link JsonEndpointOptions}). */
export type DirectoryEndpointOptions = JsonEndpointOptions;

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

  async #run(info: BoardcastRequest): Promise<HttpReply> {
    const refuse = (error: BoardcastError, headers?: Record<string, string>): HttpReply => {
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

  #crashed(error: unknown): HttpReply {
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
