import type { IncomingMessage } from 'node:http';
import type { OriginPolicy } from './options.js';

function normalizedOrigin(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    // Opaque origins ("null", file:, data:) never match anything by accident.
    return url.origin === 'null' ? undefined : url.origin;
  } catch {
    return undefined;
  }
}

/**
 * Whether a browser page at `origin` may open this socket. Browsers always
 * send `Origin` on WebSocket handshakes and never let a page forge it, so
 * checking it is what stops cross-site WebSocket hijacking: cookies ride
 * along on a cross-site handshake, and no CORS preflight protects it.
 */
export function isOriginAllowed(policy: OriginPolicy, origin: string, request: IncomingMessage): boolean {
  if (policy === '*') return true;
  if (typeof policy === 'function') return policy(origin, request) === true;
  const normalized = normalizedOrigin(origin);
  if (normalized === undefined) return false;
  if (policy === 'same-host') {
    const host = request.headers.host;
    if (!host) return false;
    try {
      // Parse Host with the origin's scheme so default ports compare equal
      // ("example.com" vs "http://example.com:80").
      const scheme = normalized.slice(0, normalized.indexOf(':'));
      return new URL(`${scheme}://${host}`).origin === normalized;
    } catch {
      return false;
    }
  }
  return policy.some((allowed) => normalizedOrigin(allowed) === normalized);
}
