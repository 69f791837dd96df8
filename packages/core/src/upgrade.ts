/**
 * One owner for a server's HTTP `upgrade` event. Node hands every upgrade
 * request (any path) to the server's `upgrade` listeners; an endpoint rightly
 * ignores paths that are not its own, so an upgrade to a path nobody serves
 * used to sit unanswered for ever, holding a descriptor and blocking a
 * graceful shutdown. Every boardcast endpoint that takes upgrades (the
 * WebSocket endpoint, the board link) registers its path here instead of
 * listening itself; the registry routes each upgrade to the one route that
 * matches and answers everything else with 404 `not_found` and closes it.
 *
 * Written against duck types, not Node's classes, so core stays free of Node
 * APIs: any server with `on`/`removeListener` for `upgrade` fits (node:http,
 * node:https, @hono/node-server's `serve()` result …).
 */
import { BoardcastError } from './errors.js';

/** The parts of an upgrade request the registry reads (node:http `IncomingMessage` fits). */
export interface UpgradeRequestLike {
  readonly url?: string | undefined;
}

/** The parts of an upgrade socket the registry uses (node:net `Socket` / `Duplex` fit). */
export interface UpgradeSocketLike {
  readonly destroyed: boolean;
  readonly writable: boolean;
  end(data: string): unknown;
  destroy(): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  once(event: 'finish' | 'close', listener: () => void): unknown;
}

/** A server whose `upgrade` event the registry takes over (node:http and node:https servers fit). */
export interface UpgradeServer<Req = never, Sock = never, Head = never> {
  on(event: 'upgrade', listener: (request: Req, socket: Sock, head: Head) => void): unknown;
  removeListener(event: 'upgrade', listener: (request: Req, socket: Sock, head: Head) => void): unknown;
  /** Used to tell whether someone else also listens for upgrades. */
  listenerCount?(event: 'upgrade'): number;
}

/** One registered endpoint. */
export interface UpgradeRoute<Req, Sock, Head> {
  /** Exact URL path (`/ws`), or a predicate on the path (no query). */
  readonly path: string | ((pathname: string) => boolean);
  /** Called with every upgrade whose path matches; the route must answer or close the socket. */
  handle(request: Req, socket: Sock, head: Head): void;
}

/**
 * How long an upgrade that no boardcast route matches is left to other
 * `upgrade` listeners (someone else's WebSocket server on the same HTTP
 * server) before, if they have not touched it, it is answered 404 and
 * closed. Milliseconds.
 */
export const UNHANDLED_UPGRADE_TIMEOUT_MS = 10_000;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** After answering, the socket is destroyed at the latest this long later (ms) even if the peer reads nothing. */
const ANSWER_LINGER_MS = 1000;

const encoder = new TextEncoder();

/**
 * Refuse an upgrade with a complete HTTP/1.1 response (`Connection: close`,
 * JSON `{"error":{code,message}}` body) and close the socket: at once after
 * the bytes are out, and within a second whatever the peer does. `status`
 * defaults to the error's. Safe on a socket that is already gone.
 */
export function refuseUpgrade(
  socket: UpgradeSocketLike,
  error: BoardcastError,
  status = error.status,
  headers: Readonly<Record<string, string>> = {},
): void {
  // A reset from the peer must never become an uncaught 'error'.
  socket.on('error', () => undefined);
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(error.toBody());
  let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  head += `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${encoder.encode(body).byteLength}\r\n\r\n`;
  const timer = setTimeout(() => socket.destroy(), ANSWER_LINGER_MS);
  (timer as { unref?: () => void }).unref?.();
  socket.once('finish', () => {
    clearTimeout(timer);
    socket.destroy();
  });
  socket.once('close', () => clearTimeout(timer));
  socket.end(head + body);
}

/** Bytes written to the socket so far (node:net's `bytesWritten`; 0 where a socket has none). */
function writtenTo(socket: UpgradeSocketLike): number {
  return (socket as { bytesWritten?: number }).bytesWritten ?? 0;
}

function pathnameOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

/** The registry of one server; get it with {@link upgradeRegistry}. */
export class UpgradeRegistry<Req extends UpgradeRequestLike, Sock extends UpgradeSocketLike, Head> {
  /** See {@link UNHANDLED_UPGRADE_TIMEOUT_MS}; may be changed per server. */
  unhandledTimeoutMs = UNHANDLED_UPGRADE_TIMEOUT_MS;
  readonly #server: UpgradeServer<Req, Sock, Head>;
  readonly #routes = new Set<UpgradeRoute<Req, Sock, Head>>();
  /** Unmatched sockets left to other listeners, with what had been written to each when it arrived. */
  readonly #watched = new Map<Sock, { readonly before: number; readonly timer: unknown }>();
  #listening = false;
  /** Upgrades answered 404 because no route (and no other listener) took them. */
  refused = 0;

  constructor(server: UpgradeServer<Req, Sock, Head>) {
    this.#server = server;
  }

  /** Registered routes. */
  get size(): number {
    return this.#routes.size;
  }

  /** Unmatched upgrades currently left to other listeners (destroyed after `unhandledTimeoutMs` if untouched). */
  get watching(): number {
    return this.#watched.size;
  }

  /**
   * Route upgrades for `route.path` to `route.handle`. Returns the function
   * that removes the route; the registry stops listening once none is left.
   * Throws `TypeError` when another route already has the same exact path.
   */
  register(route: UpgradeRoute<Req, Sock, Head>): () => void {
    if (typeof route.path === 'string') {
      for (const other of this.#routes) {
        if (other.path === route.path) {
          throw new TypeError(`@boardcast: an endpoint already takes upgrades for ${route.path} on this server`);
        }
      }
    }
    this.#routes.add(route);
    if (!this.#listening) {
      this.#listening = true;
      this.#server.on('upgrade', this.#onUpgrade);
    }
    return () => {
      if (!this.#routes.delete(route) || this.#routes.size > 0) return;
      this.#listening = false;
      this.#server.removeListener('upgrade', this.#onUpgrade);
      registries.delete(this.#server);
      // The last endpoint is closing (a shutdown, usually): answer now what
      // nobody has touched instead of keeping the shutdown waiting for the
      // timer.
      for (const [socket, { before, timer }] of this.#watched) {
        clearTimeout(timer as ReturnType<typeof setTimeout>);
        if (!socket.destroyed && writtenTo(socket) === before) this.#refuse(socket);
      }
      this.#watched.clear();
    };
  }

  readonly #onUpgrade = (request: Req, socket: Sock, head: Head): void => {
    const pathname = pathnameOf(request.url);
    if (pathname !== undefined) {
      for (const route of this.#routes) {
        const matches = typeof route.path === 'string' ? route.path === pathname : route.path(pathname);
        if (matches) {
          try {
            route.handle(request, socket, head);
          } catch (error) {
            // An exception here would escape into the server's 'upgrade'
            // emit and take the process down; answer and report instead.
            refuseUpgrade(socket, new BoardcastError('handler_failed', 'upgrade failed'), 500);
            console.error(`[boardcast] the upgrade handler for ${pathname} threw:`, error);
          }
          return;
        }
      }
    }
    const others = (this.#server.listenerCount?.('upgrade') ?? 1) - 1;
    if (others > 0) {
      this.#watch(socket);
      return;
    }
    this.#refuse(socket);
  };

  #refuse(socket: Sock): void {
    this.refused++;
    refuseUpgrade(socket, new BoardcastError('not_found', 'no WebSocket endpoint at this path'));
  }

  /** Leave the socket to the other listeners, but answer it if none of them has written to it in time. */
  #watch(socket: Sock): void {
    const before = writtenTo(socket);
    const timer = setTimeout(() => {
      this.#watched.delete(socket);
      if (!socket.destroyed && writtenTo(socket) === before) this.#refuse(socket);
    }, this.unhandledTimeoutMs);
    (timer as { unref?: () => void }).unref?.();
    this.#watched.set(socket, { before, timer });
    socket.once('close', () => {
      clearTimeout(timer);
      this.#watched.delete(socket);
    });
  }
}

const registries = new WeakMap<object, UpgradeRegistry<UpgradeRequestLike, UpgradeSocketLike, unknown>>();

/**
 * The upgrade registry of `server`, created on first use. Every endpoint on
 * the same server shares it, whichever package created it.
 */
export function upgradeRegistry<Req extends UpgradeRequestLike, Sock extends UpgradeSocketLike, Head>(
  server: UpgradeServer<Req, Sock, Head>,
): UpgradeRegistry<Req, Sock, Head> {
  let registry = registries.get(server) as UpgradeRegistry<Req, Sock, Head> | undefined;
  if (!registry) {
    registry = new UpgradeRegistry(server);
    registries.set(server, registry as unknown as UpgradeRegistry<UpgradeRequestLike, UpgradeSocketLike, unknown>);
  }
  return registry;
}

/** Shorthand: `upgradeRegistry(server).register(route)`. */
export function registerUpgrade<Req extends UpgradeRequestLike, Sock extends UpgradeSocketLike, Head>(
  server: UpgradeServer<Req, Sock, Head>,
  route: UpgradeRoute<Req, Sock, Head>,
): () => void {
  return upgradeRegistry(server).register(route);
}
