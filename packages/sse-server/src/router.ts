import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ContractSpec, Hub } from '@boardcast/core';
import { type AllowedHosts, type AllowedOrigins, nodeRequestUrl, type TrustProxy } from '@boardcast/core/server';
import {
  type CommandEndpoint,
  type CommandEndpointOptions,
  createCommandEndpoint,
  type FastifyReplyLike,
  type FastifyRequestLike,
} from './command-endpoint.js';
import {
  createDirectoryEndpoint,
  type DirectoryEndpoint,
  type DirectoryEndpointOptions,
} from './directory-endpoint.js';
import type { Authorize, NodeRequest, NodeResponse } from './request.js';
import {
  createSseEndpoint,
  type FetchConnectionInfo,
  type SseEndpoint,
  type SseEndpointOptions,
} from './sse-endpoint.js';

export interface BoardcastHttpOptions {
  /**
   * Path prefix of the routes, e.g. `/api` → `GET`/`POST /api/events`,
   * `POST /api/commands/<name>`, `GET /api/directory`. Default `''`.
   */
  readonly base?: string;
  /** Used by every endpoint unless `sse.authorize`/`commands.authorize`/`directory.authorize` is set. */
  readonly authorize?: Authorize;
  /** Used by both endpoints unless set in `sse`/`commands` (core's `AllowedHosts`). */
  readonly allowedHosts?: AllowedHosts;
  /** Used by both endpoints unless set in `sse`/`commands` (core's `AllowedOrigins`). Default `'same-host'`. */
  readonly allowedOrigins?: AllowedOrigins<IncomingMessage | Request>;
  /** Used by every endpoint unless set in `sse`/`commands`/`directory` (core's `TrustProxy`). Default: none. */
  readonly trustProxy?: TrustProxy;
  readonly sse?: SseEndpointOptions;
  readonly commands?: CommandEndpointOptions;
  readonly directory?: DirectoryEndpointOptions;
}

/** The endpoints behind one router. */
export interface BoardcastHttp {
  readonly sse: SseEndpoint;
  readonly commands: CommandEndpoint;
  /** `GET <base>/directory`: the page of the hub's directory the client may see. */
  readonly directory: DirectoryEndpoint;
  /**
   * Node handler: `http.createServer(api.node)` or Express `app.use(api.node)`.
   * Unmatched paths go to `next` when given (Express), otherwise get 404.
   */
  readonly node: (req: NodeRequest, res: NodeResponse, next?: (error?: unknown) => void) => void;
  /** Fastify handler for both routes: `app.all('/api/*', api.fastify)`; unmatched paths get 404. */
  readonly fastify: (request: FastifyRequestLike, reply: FastifyReplyLike) => void;
  /** Fetch handler; unmatched paths get 404. `peer.remoteAddress` as for `sse.fetch`. */
  readonly fetch: (request: Request, peer?: FetchConnectionInfo) => Promise<Response>;
  /** True when the path is one of the routes (for frameworks that route themselves). */
  matches(pathname: string): boolean;
  /** Close the event stream (ends every client); resolves within the stream's `closeTimeoutMs`. */
  close(): Promise<void>;
}

type Route = 'events' | 'commands' | 'directory' | undefined;

/** Route `GET`/`POST <base>/events`, `POST <base>/commands/<name>` and `GET <base>/directory` to a hub's endpoints. */
export function boardcastHttp<C extends ContractSpec>(hub: Hub<C>, options: BoardcastHttpOptions = {}): BoardcastHttp {
  const base = (options.base ?? '').replace(/\/+$/, '');
  if (base !== '' && !base.startsWith('/')) throw new TypeError('base must start with "/"');
  const eventsPath = `${base}/events`;
  const commandsPrefix = `${base}/commands/`;
  const directoryPath = `${base}/directory`;
  const { authorize, allowedHosts, allowedOrigins, trustProxy } = options;
  const shared = { authorize, allowedHosts, allowedOrigins, trustProxy };
  const sse = createSseEndpoint(hub, { ...shared, ...options.sse });
  const commands = createCommandEndpoint(hub, { ...shared, ...options.commands });
  const directory = createDirectoryEndpoint(hub, { ...shared, ...options.directory });

  // Routing reads the path alone: the endpoint routed to builds the whole
  // request (client address, trustProxy) once, itself.
  const route = (pathname: string): Route => {
    if (pathname === eventsPath) return 'events';
    if (pathname === directoryPath) return 'directory';
    if (pathname.startsWith(commandsPrefix) && pathname.length > commandsPrefix.length) return 'commands';
    return undefined;
  };

  return {
    sse,
    commands,
    directory,
    node(req, res, next) {
      const which = route(nodeRequestUrl(req).pathname);
      if (which === 'events') sse.node(req, res);
      else if (which === 'commands') commands.node(req, res);
      else if (which === 'directory') directory.node(req as IncomingMessage, res as ServerResponse);
      else if (next) next();
      else {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('Not Found');
      }
    },
    fastify(request, reply) {
      const which = route(nodeRequestUrl(request.raw).pathname);
      if (which === 'events') sse.fastify(request, reply);
      else if (which === 'commands') commands.fastify(request, reply);
      else if (which === 'directory') directory.fastify(request, reply);
      else {
        reply.hijack();
        reply.raw.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        reply.raw.end('Not Found');
      }
    },
    async fetch(request, peer) {
      const which = route(new URL(request.url).pathname);
      if (which === 'events') return sse.fetch(request, peer);
      if (which === 'commands') return commands.fetch(request, peer);
      if (which === 'directory') return directory.fetch(request, peer);
      return new Response('Not Found', { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
    },
    matches: (pathname) => route(pathname) !== undefined,
    close: () => sse.close(),
  };
}
