import type { BoardcastError } from './errors.js';
import { retryAfterHeader } from './retry-after.js';

/**
 * A complete non-streaming HTTP answer as plain data, built once and sent
 * by any adapter: node:http (`res.writeHead(status, headers); res.end(body)`)
 * or Fetch (`new Response(body, { status, headers })`).
 */
export interface HttpReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** The body text (UTF-8 on the wire). */
  readonly body: string;
}

/**
 * The headers of every JSON answer: the media type with its charset, never
 * cached (answers depend on the caller and the moment), never sniffed as
 * another type.
 */
const JSON_HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
} as const;

/**
 * A JSON answer: `body` is JSON text already; `headers` add to the JSON
 * headers, and one named like a JSON header in any case (`content-type`,
 * `cache-control`) replaces it rather than being sent beside it.
 */
export function jsonReply(status: number, body: string, headers?: Readonly<Record<string, string>>): HttpReply {
  return { status, headers: mergeHeaders(JSON_HEADERS, headers), body };
}

/**
 * `base` then `extra`, where a name of `extra` replaces the same name of
 * `base` in any case: header names are case-insensitive (RFC 9110 §5.1), and
 * both adapters would otherwise send both values (Fetch's `Headers` joins
 * them: `retry-after: 3, 10`).
 */
function mergeHeaders(
  base: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  const merged: Record<string, string> = { ...base };
  if (!extra) return merged;
  const names = new Map(Object.keys(merged).map((name) => [name.toLowerCase(), name]));
  for (const [name, value] of Object.entries(extra)) {
    const key = name.toLowerCase();
    const existing = names.get(key);
    if (existing !== undefined && existing !== name) delete merged[existing];
    merged[name] = value;
    names.set(key, name);
  }
  return merged;
}

/**
 * An error's JSON answer, `{ "error": { code, message, details? } }`
 * (`error.toBody()`), with `status` defaulting to the error's own. A 429 or
 * 503 whose error says how long to wait (`details.retryAfterMs`) carries
 * `Retry-After` ({@link retryAfterHeader}); a `Retry-After` in `headers`,
 * in any case, wins.
 */
export function errorReply(
  error: BoardcastError,
  headers?: Readonly<Record<string, string>>,
  status: number = error.status,
): HttpReply {
  return jsonReply(status, JSON.stringify(error.toBody()), mergeHeaders(retryAfterHeader(error, status), headers));
}
