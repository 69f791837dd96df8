import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BoardcastError, type BoardcastRequest } from '@boardcast/core';
import { createProxyTrust, fromNodeRequest, retryAfterHeader, type TrustProxy } from '@boardcast/core/server';

/** How wrong tokens from one address are slowed down (see {@link TokenAccessOptions.throttle}). */
export interface LoginThrottleOptions {
  /** Wait after the first wrong token from an address, in ms. Default 1000. */
  readonly baseDelayMs?: number;
  /** Longest wait, in ms: each further wrong token doubles the wait up to this. Default 60000 (one guess a minute). */
  readonly maxDelayMs?: number;
  /** Addresses remembered at once; the least recently failing is forgotten first. Default 10000. */
  readonly maxAddresses?: number;
}

export interface TokenAccessOptions {
  /** The shared secret. `undefined` or `''`: no token, every request is allowed (`required` false). */
  readonly token: string | undefined;
  /**
   * Name of the session cookie, an RFC 6265 token (letters, digits,
   * `!#$%&'*+-.^_\`|~`, not starting with `__`); a `TypeError` otherwise.
   * Over HTTPS the cookie is set as `__Host-<cookieName>` (RFC 6265bis §4.1.3.2:
   * `Secure`, `Path=/`, no `Domain`, so no other port or subdomain can set or
   * shadow it); both names are read.
   */
  readonly cookieName: string;
  /**
   * Lifetime of the session cookie in seconds, a positive integer (`RangeError`
   * otherwise). Default 2592000 (30 days). The server refuses the cookie once
   * this long has passed since the login, whatever the browser keeps.
   */
  readonly maxAgeSeconds?: number;
  /**
   * Per-address throttling of wrong tokens (`?token=` logins and
   * `Authorization: Bearer`): after the n-th consecutive wrong token an
   * address must wait `min(baseDelayMs · 2^(n-1), maxDelayMs)` before the
   * next one is even compared; earlier attempts get 429 `too_many_requests`
   * with `Retry-After`. A right token clears the address. IPv6 addresses
   * count per /64 (one host's share). `false` turns it off. Defaults: see
   * {@link LoginThrottleOptions} — at most 6 guesses in the first minute,
   * then one a minute, per address.
   */
  readonly throttle?: LoginThrottleOptions | false;
  /** The clock, ms since the epoch (default `Date.now`); for tests of expiry and throttling. */
  readonly now?: () => number;
  /**
   * Reverse proxies whose `X-Forwarded-*` headers are believed (core's
   * `TrustProxy`, the same option as the endpoints'): behind them the
   * throttle counts the forwarded client, not the proxy, and a login over
   * `X-Forwarded-Proto: https` gets the `Secure`, `__Host-` cookie. Default: none.
   */
  readonly trustProxy?: TrustProxy;
}

/**
 * What {@link TokenAccess.allows} reads: core's `BoardcastRequest` (what
 * `authorize` gets, SSE or WebSocket) or anything with a case-insensitive
 * `header(name)`. The client address for throttling is `clientAddress` when
 * given (our endpoints fill it in, after their `trustProxy`), else that of
 * `raw` when it is a node:http request (after this access's `trustProxy`).
 */
export interface TokenRequest extends Pick<BoardcastRequest, 'header'> {
  readonly raw?: unknown;
  readonly clientAddress?: string | undefined;
}

/** A token check for pages and scripts; the app builds its `authorize` hook on {@link TokenAccess.allows}. */
export interface TokenAccess {
  /** True when a token is configured. */
  readonly required: boolean;
  /**
   * Whether a request carries the credential: `Authorization: Bearer <token>`
   * or a valid, unexpired session cookie (any one of several cookies of that
   * name). Always true without a token. Throws `BoardcastError`
   * `too_many_requests` (429) when the request offers a Bearer token from an
   * address that is waiting out wrong tokens (see `throttle`); from
   * `authorize`, that refuses the request with 429.
   */
  allows(request: TokenRequest): boolean;
  /**
   * When the request's credential stops being valid, in ms since the epoch:
   * for a session cookie its login time + `maxAgeSeconds` (the latest of
   * several valid ones); `undefined` for a Bearer token or when no token is
   * configured (they do not expire). Return it from `authorize` as
   * `expiresAt` and the transports end the stream or socket at that time.
   */
  expiresAt(request: TokenRequest): number | undefined;
  /**
   * Handles `GET`/`HEAD` of an address with `?token=` (node:http): with the
   * right token, sets a fresh session cookie and answers 303 to the same
   * address without `token`, so it leaves the address bar and history; with
   * a wrong one, 401 (text); while the address is throttled, 429 (text, with
   * `Retry-After`). Returns false for every other request and when no token
   * is configured, writing no body; it then only adds a `Set-Cookie` that
   * deletes a session cookie the request carried that is no longer valid
   * (expired, or made for another token), so the browser stops sending it.
   * `url` defaults to `req.url`.
   */
  login(req: IncomingMessage, res: ServerResponse, url?: URL): boolean;
}

const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** `<issued seconds>.<16-byte nonce>.<HMAC-SHA256>`, base64url without padding. */
const SESSION = /^(\d{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
/** A cookie issued this far in the future (another instance's clock) is still accepted, in ms. */
const CLOCK_SKEW_MS = 5 * 60_000;
const HOST_PREFIX = '__Host-';

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Every value of cookie `name` in a `Cookie` header, in order (browsers send several when paths or domains differ). */
function cookies(header: string | undefined, name: string): string[] {
  const found: string[] = [];
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) found.push(part.slice(eq + 1).trim());
  }
  return found;
}

/** The throttling key of an address: IPv4 as is, IPv6 by its /64 (a host usually holds a whole /64). */
function addressKey(address: string | undefined): string {
  if (!address) return '';
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4?.[1]) return v4[1];
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('%')[0]?.split('::') ?? [];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`@boardcast/sse-server: ${name} must be a positive integer (got ${String(value)})`);
  }
  return value;
}

interface Failures {
  count: number;
  /** No token from this address is compared before this time (ms since the epoch). */
  until: number;
  last: number;
}

/** Growing delays per address, bounded in time and in memory. */
class Throttle {
  readonly #entries = new Map<string, Failures>();
  readonly #base: number;
  readonly #max: number;
  readonly #size: number;
  readonly #now: () => number;

  constructor(options: LoginThrottleOptions, now: () => number) {
    this.#base = positive('throttle.baseDelayMs', options.baseDelayMs, 1000);
    this.#max = positive('throttle.maxDelayMs', options.maxDelayMs, 60_000);
    this.#size = positive('throttle.maxAddresses', options.maxAddresses, 10_000);
    this.#now = now;
  }

  /** Ms the address must still wait before a token of its is compared; 0 when it may try now. */
  wait(address: string): number {
    const entry = this.#entries.get(addressKey(address));
    return entry ? Math.max(0, entry.until - this.#now()) : 0;
  }

  fail(address: string): void {
    const key = addressKey(address);
    const now = this.#now();
    const entry = this.#entries.get(key) ?? { count: 0, until: 0, last: 0 };
    // Quiet for ten maximum delays: a person who mistyped last week starts afresh.
    if (now - entry.last > this.#max * 10) entry.count = 0;
    entry.count += 1;
    entry.last = now;
    entry.until = now + Math.min(this.#base * 2 ** Math.min(entry.count - 1, 30), this.#max);
    this.#entries.delete(key); // re-inserted last: the Map's order is least recently failing first
    this.#entries.set(key, entry);
    while (this.#entries.size > this.#size) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  succeed(address: string): void {
    this.#entries.delete(addressKey(address));
  }
}

function throttled(waitMs: number): BoardcastError {
  return new BoardcastError(
    'too_many_requests',
    `too many wrong tokens from this address: retry in ${Math.ceil(waitMs / 1000)} s`,
    { details: { retryAfterMs: waitMs } },
  );
}

/**
 * Access for holders of one shared token, with a session cookie for the page.
 * Opening `/?token=<token>` once (the address a server prints at start-up)
 * stores an `HttpOnly; SameSite=Strict; Path=/` cookie that the page's
 * same-origin `fetch`, `EventSource` and WebSocket carry by themselves
 * (`EventSource` cannot set headers), and that no script can read. The cookie
 * holds the login time and a random per-login nonce under an HMAC-SHA256
 * keyed by the token (`<seconds>.<nonce>.<mac>`), never the token: the server
 * refuses it `maxAgeSeconds` after the login, it survives a restart with the
 * same token and stops working when the token changes. Scripts send
 * `Authorization: Bearer <token>`. Token comparisons take the same time
 * whatever the input (HMAC digests of equal length, `timingSafeEqual`), and
 * wrong tokens are throttled per address (`throttle`).
 *
 * The policy stays the app's:
 * `authorize: (request) => access.allows(request) ? { user: 'holder' } : false`
 * refuses everything without the credential (401); an app that lets anyone
 * watch returns `{ control: access.allows(request) }` and checks
 * `context.auth` in its state-changing commands.
 */
export function createTokenAccess(options: TokenAccessOptions): TokenAccess {
  const { cookieName, maxAgeSeconds = 30 * 24 * 3600, now = Date.now } = options;
  if (typeof cookieName !== 'string' || !COOKIE_NAME.test(cookieName) || cookieName.startsWith('__')) {
    throw new TypeError(
      `@boardcast/sse-server: cookieName must be an RFC 6265 token not starting with "__" (got ${JSON.stringify(cookieName)})`,
    );
  }
  if (!Number.isSafeInteger(maxAgeSeconds) || maxAgeSeconds <= 0) {
    throw new RangeError(
      `@boardcast/sse-server: maxAgeSeconds must be a positive integer (got ${String(maxAgeSeconds)})`,
    );
  }
  const throttle = options.throttle === false ? undefined : new Throttle(options.throttle ?? {}, now);
  const proxy = createProxyTrust(options.trustProxy);
  const addressOf = (request: TokenRequest): string => {
    if (request.clientAddress) return request.clientAddress;
    const raw = request.raw as IncomingMessage | undefined;
    return (raw?.socket && raw.headers ? fromNodeRequest(raw, proxy).clientAddress : undefined) ?? '';
  };
  const secret = options.token || undefined;
  const hostName = `${HOST_PREFIX}${cookieName}`;
  // Digests of equal length, so neither the token's content nor its length leaks through timing.
  const mac = (text: string) =>
    createHmac('sha256', secret ?? '')
      .update(text)
      .digest('base64url');
  const expected = secret ? mac(secret) : '';
  const tokenMatches = (given: string) => secret !== undefined && equal(mac(given), expected);
  const sessionMac = (issued: string, nonce: string) => mac(`${cookieName}\n${issued}\n${nonce}`);

  const issue = (): string => {
    const issued = String(Math.floor(now() / 1000));
    const nonce = randomBytes(16).toString('base64url');
    return `${issued}.${nonce}.${sessionMac(issued, nonce)}`;
  };
  /** When a session cookie value stops being valid (ms since the epoch), or `undefined` when it is not valid now. */
  const validUntil = (value: string): number | undefined => {
    const parts = SESSION.exec(value);
    if (!parts?.[1] || !parts[2] || !parts[3]) return undefined;
    if (!equal(sessionMac(parts[1], parts[2]), parts[3])) return undefined;
    const issuedMs = Number(parts[1]) * 1000;
    const t = now();
    const until = issuedMs + maxAgeSeconds * 1000;
    return issuedMs <= t + CLOCK_SKEW_MS && t < until ? until : undefined;
  };
  const valid = (value: string): boolean => validUntil(value) !== undefined;
  /** Which of our cookie names the request carries, and whether any of their values is valid. */
  const sessions = (header: string | undefined) => {
    const names = [cookieName, hostName].filter((name) => cookies(header, name).length > 0);
    const ok = names.some((name) => cookies(header, name).some(valid));
    return { names, ok };
  };

  /** Compare a presented token, throttled per address; true when it is the token. */
  const checkToken = (given: string, address: string): boolean => {
    const wait = throttle?.wait(address) ?? 0;
    if (wait > 0) throw throttled(wait);
    if (tokenMatches(given)) {
      throttle?.succeed(address);
      return true;
    }
    throttle?.fail(address);
    return false;
  };

  const allows = (request: TokenRequest): boolean => {
    if (!secret) return true;
    if (sessions(request.header('cookie')).ok) return true;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.header('authorization') ?? '');
    return bearer?.[1] !== undefined && checkToken(bearer[1], addressOf(request));
  };

  /** Delete every cookie of ours the request carried when none of them is valid. */
  const clearStale = (req: IncomingMessage, res: ServerResponse): void => {
    const { names, ok } = sessions(req.headers.cookie);
    if (ok || res.headersSent) return;
    for (const name of names) {
      const secure = name === hostName ? '; Secure' : '';
      res.appendHeader('Set-Cookie', `${name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure}`);
    }
  };

  const expiresAt = (request: TokenRequest): number | undefined => {
    if (!secret) return undefined;
    const header = request.header('cookie');
    let latest: number | undefined;
    for (const name of [cookieName, hostName]) {
      for (const value of cookies(header, name)) {
        const until = validUntil(value);
        if (until !== undefined && (latest === undefined || until > latest)) latest = until;
      }
    }
    return latest;
  };

  return {
    required: secret !== undefined,
    allows,
    expiresAt,
    login(req, res, url = new URL(req.url ?? '/', 'http://localhost')) {
      if (!secret) return false;
      if (!url.searchParams.has('token') || (req.method !== 'GET' && req.method !== 'HEAD')) {
        clearStale(req, res);
        return false;
      }
      const text = { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' };
      let right: boolean;
      try {
        right = checkToken(url.searchParams.get('token') ?? '', fromNodeRequest(req, proxy).clientAddress ?? '');
      } catch (error) {
        const retry = retryAfterHeader(error as BoardcastError, 429);
        res.writeHead(429, { ...text, ...retry });
        res.end(`too many wrong tokens: wait ${retry['Retry-After'] ?? 1} s\n`);
        return true;
      }
      if (!right) {
        clearStale(req, res);
        res.writeHead(401, text);
        res.end('wrong token: open the address the server printed at start-up\n');
        return true;
      }
      const rest = new URLSearchParams(url.searchParams);
      rest.delete('token');
      const query = rest.toString();
      // Over TLS the name gets the __Host- prefix: the browser then refuses the
      // same name from http:, from another port's app or from a subdomain.
      const secure = fromNodeRequest(req, proxy).protocol === 'https'; // TLS here, or at a trusted proxy
      const attributes = `Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
      res.writeHead(303, {
        Location: `${url.pathname}${query ? `?${query}` : ''}`,
        'Set-Cookie': `${secure ? hostName : cookieName}=${issue()}; ${attributes}`,
        'Cache-Control': 'no-store',
      });
      res.end();
      return true;
    },
  };
}
