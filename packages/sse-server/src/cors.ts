import type { HttpReply } from '@boardcast/core/server';
import type { BoardcastRequest } from './request.js';

/** Core's `AllowedOrigins` for this package's requests, as `resolvePolicy` left it. */
type Origins = 'same-host' | '*' | readonly string[] | ((origin: string, request: BoardcastRequest) => boolean);

/**
 * Cross-origin access (Fetch standard, "CORS protocol") for the origins an
 * endpoint's `allowedOrigins` lets in. The origin check itself stays core's
 * `checkRequest` (a refused origin is 403 `forbidden_origin` before anything
 * here runs, with no CORS header, so the browser hides the answer from the
 * page exactly as before); this file only adds what a browser needs to hand
 * an *allowed* cross-origin answer to the page:
 *
 * - a list or a predicate: `Access-Control-Allow-Origin: <that origin>` and
 *   `Access-Control-Allow-Credentials: true` (the operator named the origin,
 *   so cookies and `Authorization` may come along), and `Vary: Origin` on
 *   every response (the headers depend on it: a shared cache must not hand
 *   one origin's answer to another);
 * - `'*'`: `Access-Control-Allow-Origin: *` and never credentials — the
 *   browser then refuses a credentialed request, which is right for what
 *   `'*'` is documented for (public, unauthenticated data);
 * - `'same-host'` (default): nothing; a same-origin page needs no CORS.
 *
 * A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered
 * 204 without calling `authorize` (browsers never send credentials on it).
 */
export interface Cors {
  /** Headers for an answer (stream, result or error) to `request`. */
  headers(request: BoardcastRequest): Record<string, string>;
  /** The answer to an `OPTIONS` request that passed the host and origin checks. */
  preflight(request: BoardcastRequest): HttpReply;
}

/** How long (s) a browser may cache a preflight; Chromium caps it at 7200, Firefox at 86400. */
export const PREFLIGHT_MAX_AGE_SECONDS = 600;
/** `Access-Control-Request-Headers` is a comma-separated list of header names (RFC 9110 tokens). */
const HEADER_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

export function createCors(policy: Origins, method: 'GET' | 'POST' | 'GET, POST'): Cors {
  const listed = policy !== '*' && policy !== 'same-host';
  const allowed = (request: BoardcastRequest): Record<string, string> => {
    const origin = request.header('origin');
    if (origin === undefined || policy === 'same-host') return {};
    if (policy === '*') return { 'Access-Control-Allow-Origin': '*' };
    // The same normalization as core's isOriginAllowed (an opaque or invalid origin never matches).
    const normalized = serialize(origin);
    if (normalized === undefined) return {};
    const ok =
      typeof policy === 'function'
        ? policy(normalized, request) === true
        : policy.some((entry) => serialize(entry) === normalized);
    if (!ok) return {};
    return {
      'Access-Control-Allow-Origin': normalized,
      'Access-Control-Allow-Credentials': 'true',
    };
  };
  return {
    headers(request) {
      const headers = allowed(request);
      if (listed) headers.Vary = 'Origin';
      // A page may read why it must wait (a 503 or 429).
      if (headers['Access-Control-Allow-Origin']) headers['Access-Control-Expose-Headers'] = 'Retry-After';
      return headers;
    },
    preflight(request) {
      const headers: Record<string, string> = { Allow: `${method}, OPTIONS`, ...allowed(request) };
      if (listed) headers.Vary = 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers';
      if (headers['Access-Control-Allow-Origin']) {
        headers['Access-Control-Allow-Methods'] = method;
        const asked = request.header('access-control-request-headers');
        // Whatever the page wants to send: the endpoint reads only the
        // headers it knows, and the origin is already trusted.
        if (asked && HEADER_LIST.test(asked.trim())) headers['Access-Control-Allow-Headers'] = asked.trim();
        headers['Access-Control-Max-Age'] = String(PREFLIGHT_MAX_AGE_SECONDS);
        // Chromium's Private Network Access: a public page reaching a LAN device asks first.
        if (request.header('access-control-request-private-network') === 'true') {
          headers['Access-Control-Allow-Private-Network'] = 'true';
        }
      }
      return { status: 204, headers, body: '' };
    },
  };
}

function serialize(origin: string): string | undefined {
  try {
    const serialized = new URL(origin).origin;
    return serialized === 'null' ? undefined : serialized;
  } catch {
    return undefined;
  }
}

/** `reply` with `extra` headers added (the reply's own win: they were set for a reason). */
export function withHeaders(reply: HttpReply, extra: Record<string, string>): HttpReply {
  return { ...reply, headers: { ...extra, ...reply.headers } };
}
