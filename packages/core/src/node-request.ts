import { createProxyTrust, type ProxyTrust, withClient } from './policy.js';
import type { BoardcastRequest } from './request.js';

/**
 * The parts of a Node request {@link fromNodeRequest} reads: node:http's
 * `IncomingMessage` (an upgrade request too) and node:http2's compatibility
 * request fit. Typed by shape so that core imports nothing from Node.
 */
export interface NodeRequestLike {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  /** Express keeps the full path here when it strips a mount prefix from `url`. */
  readonly originalUrl?: string | undefined;
  readonly headers: { readonly [name: string]: string | readonly string[] | undefined };
  readonly socket?: { readonly remoteAddress?: string | undefined; readonly encrypted?: boolean } | null | undefined;
}

/**
 * No proxy trusted: the peer is the client. Made on first use, not at import:
 * importing this module runs nothing (the package has no side effects).
 */
let direct: ProxyTrust | undefined;
const directTrust = (): ProxyTrust => {
  direct ??= createProxyTrust(undefined);
  return direct;
};

/**
 * A Node request in core's shape, with `clientAddress`, `host` and
 * `protocol` as `proxy` (the endpoint's `trustProxy`; default none)
 * resolves them from the socket and the headers. `url` defaults to the
 * request's own path (Express's `originalUrl` when mounted) on
 * `http://localhost`; a path no URL can hold reads as `/`.
 */
export function fromNodeRequest<Raw extends NodeRequestLike>(
  req: Raw,
  proxy: ProxyTrust = directTrust(),
  url: URL = nodeRequestUrl(req),
): BoardcastRequest<Raw> {
  const request: BoardcastRequest<Raw> = {
    method: req.method ?? 'GET',
    url,
    header: (name) => {
      const key = name.toLowerCase();
      // Own keys only: Node's headers object inherits from Object.prototype,
      // so `constructor` or `toString` would otherwise read as a header.
      const own = (k: string) => (Object.hasOwn(req.headers, k) ? req.headers[k] : undefined);
      // HTTP/2 (node:http2's compatibility API) names the host `:authority`
      // and browsers send no `host` there: without this the Host check would
      // see none and a same-host Origin would never match.
      const value = own(key) ?? (key === 'host' ? own(':authority') : undefined);
      return typeof value === 'string' || value === undefined ? value : value.join(', ');
    },
    raw: req,
  };
  return withClient(request, proxy, {
    remoteAddress: req.socket?.remoteAddress,
    encrypted: req.socket?.encrypted === true,
  });
}

/**
 * The URL a Node request names, as {@link fromNodeRequest} reads it: the
 * request's path (Express's `originalUrl` when mounted) on
 * `http://localhost`; a path no URL can hold reads as `/`. For routing on
 * the path alone, without resolving the client behind a proxy.
 */
export function nodeRequestUrl(req: Pick<NodeRequestLike, 'url' | 'originalUrl'>): URL {
  try {
    return new URL(req.originalUrl ?? req.url ?? '/', 'http://localhost');
  } catch {
    return new URL('http://localhost/');
  }
}

/**
 * As {@link fromNodeRequest} for a Fetch `Request`, which carries no peer:
 * the adapter's `remoteAddress` is passed in, and the scheme is the URL's.
 */
export function fromFetchRequest(
  request: Request,
  proxy: ProxyTrust = directTrust(),
  remoteAddress?: string,
): BoardcastRequest<Request> {
  const url = new URL(request.url);
  const info: BoardcastRequest<Request> = {
    method: request.method,
    url,
    // A Request served over HTTP/2 (or 3) has no `host` header: its URL carries the :authority.
    header: (name) => request.headers.get(name) ?? (name.toLowerCase() === 'host' ? url.host : undefined),
    raw: request,
  };
  return withClient(info, proxy, { remoteAddress, encrypted: url.protocol === 'https:' });
}
