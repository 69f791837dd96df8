/**
 * The connection policy every server endpoint shares (SSE stream, HTTP
 * commands, WebSocket, board link): which `Host` and `Origin` headers are
 * accepted, how many clients, what happens to a slow one, how long a
 * shutdown may take. Written once here so both transports use the same
 * option names, defaults and normalization. No Node APIs: the server
 * packages pass `os.hostname()` and `os.networkInterfaces()` in.
 */
import { BoardcastError } from './errors.js';
import { formatIp, type IpRange, inRange, parseIp, parseIpRanges } from './ip.js';
import type { Authorize, BoardcastRequest } from './request.js';

// ------------------------------------------------------------------ Host

/** One address as `os.networkInterfaces()` reports it (only `address` is read). */
export interface InterfaceAddress {
  readonly address: string;
  readonly family?: string | number;
  readonly internal?: boolean;
}

/** What the machine is called: pass `os.hostname()` and `os.networkInterfaces()`. */
export interface HostEnvironment {
  readonly hostname?: string | undefined;
  readonly interfaces?:
    | readonly InterfaceAddress[]
    | Readonly<Record<string, readonly InterfaceAddress[] | undefined>>
    | undefined;
}

/**
 * Extra `Host` names the server answers to, on top of the defaults
 * (`localhost`, `*.localhost`, every IP literal, the machine's hostname and
 * `<hostname>.local`):
 * - a list: exact names (`'panel.lan'`), or `'.lan'` / `'*.lan'` for a
 *   domain and every name under it; ports are ignored;
 * - a predicate on the normalized host name (lower case, no port, no
 *   trailing dot, IPv6 in brackets);
 * - `'*'`: no check at all (only behind a proxy that checks `Host` itself).
 */
export type AllowedHosts = readonly string[] | '*' | ((hostname: string) => boolean);

/** Decides whether a `Host` header names this server. */
export interface HostCheck {
  /** True when `host` (a `Host` header value, port allowed) is accepted. A missing header is accepted (non-browser HTTP/1.0 clients; browsers always send one). */
  allows(host: string | undefined): boolean;
  /** The fixed names accepted (for messages and docs); IP literals and `*.localhost` are accepted besides. */
  readonly names: readonly string[];
}

const IPV4 = /^(?:\d{1,3}\.){3}\d{1,3}$/;

/**
 * `Host` header → host name, or undefined when it is not a valid host.
 * Uses the WHATWG URL parser, as browsers do, so `0x7f.1` and `2130706433`
 * both become `127.0.0.1` and IDNs become punycode.
 */
export function normalizeHost(host: string): string | undefined {
  const trimmed = host.trim();
  if (trimmed === '' || /[\s/?#@\\]/.test(trimmed)) return undefined;
  try {
    const name = new URL(`http://${trimmed}`).hostname.toLowerCase();
    return name.endsWith('.') ? name.slice(0, -1) : name;
  } catch {
    return undefined;
  }
}

/** True for an IPv4 literal or a bracketed IPv6 literal (as `normalizeHost` returns them). */
export function isIpLiteral(hostname: string): boolean {
  return IPV4.test(hostname) || (hostname.startsWith('[') && hostname.endsWith(']'));
}

function interfaceList(interfaces: HostEnvironment['interfaces']): readonly InterfaceAddress[] {
  if (!interfaces) return [];
  if (Array.isArray(interfaces)) return interfaces as readonly InterfaceAddress[];
  return Object.values(interfaces as Record<string, readonly InterfaceAddress[] | undefined>).flatMap(
    (list) => list ?? [],
  );
}

/**
 * Build the `Host` check. Why: a page on `http://rebind.example` whose name
 * an attacker re-points at this server's address is same-origin with it, so
 * the `Origin` check passes; only `Host` still says `rebind.example`.
 * Defaults accept every name a browser on the LAN can legitimately use
 * without the app configuring anything: IP literals (they cannot be
 * re-pointed), `localhost` and `*.localhost` (browsers resolve them to
 * loopback themselves), the machine's hostname and `<hostname>.local`
 * (mDNS). Everything else must be listed in `allowedHosts`.
 */
export function createHostCheck(allowed: AllowedHosts | undefined, environment: HostEnvironment = {}): HostCheck {
  if (allowed === '*') return { allows: () => true, names: ['*'] };
  const exact = new Set<string>(['localhost']);
  const suffixes: string[] = ['.localhost'];
  const machine = environment.hostname ? normalizeHost(environment.hostname) : undefined;
  if (machine) {
    exact.add(machine);
    if (!machine.includes('.') && !isIpLiteral(machine)) exact.add(`${machine}.local`);
  }
  for (const entry of interfaceList(environment.interfaces)) {
    const name = normalizeHost(entry.address.includes(':') ? `[${entry.address.split('%')[0]}]` : entry.address);
    if (name) exact.add(name);
  }
  let predicate: ((hostname: string) => boolean) | undefined;
  if (typeof allowed === 'function') predicate = allowed;
  else if (allowed) {
    for (const entry of allowed) {
      if (typeof entry !== 'string' || entry.trim() === '') {
        throw new TypeError(`@boardcast: allowedHosts entry ${JSON.stringify(entry)} is not a host name`);
      }
      const wildcard = entry.startsWith('*.') ? entry.slice(1) : entry.startsWith('.') ? entry : undefined;
      const name = normalizeHost(wildcard ? wildcard.slice(1) : entry);
      if (!name) throw new TypeError(`@boardcast: allowedHosts entry ${JSON.stringify(entry)} is not a host name`);
      if (wildcard) {
        exact.add(name);
        suffixes.push(`.${name}`);
      } else exact.add(name);
    }
  }
  return {
    names: [...exact, ...suffixes.map((suffix) => `*${suffix}`)],
    allows(host) {
      if (host === undefined) return true;
      const name = normalizeHost(host);
      if (name === undefined) return false;
      if (isIpLiteral(name) || exact.has(name)) return true;
      if (suffixes.some((suffix) => name.endsWith(suffix))) return true;
      return predicate?.(name) === true;
    },
  };
}

/** The 403 `forbidden_host` refusal for `request`, or undefined when its `Host` is accepted. */
export function checkHost(
  check: HostCheck,
  request: Pick<BoardcastRequest, 'header' | 'host'>,
): BoardcastError | undefined {
  // `host` is what a trusted proxy says the client addressed (X-Forwarded-Host); else the header.
  const host = request.host ?? request.header('host');
  if (check.allows(host)) return undefined;
  if (host === undefined) {
    return new BoardcastError(
      'forbidden_host',
      'the request names no host (no Host header); this server answers only to its allowedHosts (DNS rebinding defence)',
    );
  }
  const shown = host.slice(0, 100).replace(/[^\x20-\x7e]/g, '?');
  return new BoardcastError(
    'forbidden_host',
    `host "${shown}" is not one this server answers to; add it to allowedHosts (DNS rebinding defence)`,
  );
}

// ---------------------------------------------------------------- Origin

/**
 * Which browser origins may connect or send commands:
 * - `'same-host'` (default): only pages served from the host:port in the
 *   request's `Host` header (with `Host` itself checked, that is this server);
 * - `'*'`: any origin (public, unauthenticated data only);
 * - a list of origins, compared after URL normalization
 *   (`https://Panel.example.com:443` equals `https://panel.example.com`);
 * - a predicate on the normalized origin and the request.
 */
export type AllowedOrigins<Raw = unknown> =
  | 'same-host'
  | '*'
  | readonly string[]
  | ((origin: string, request: BoardcastRequest<Raw>) => boolean);

/** `Origin` → its serialized origin, or undefined for opaque (`null`, `file:`) or invalid ones, which never match. */
export function normalizeOrigin(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    return url.origin === 'null' ? undefined : url.origin;
  } catch {
    return undefined;
  }
}

/**
 * An `Origin` header → its serialized origin, or undefined. Stricter than
 * {@link normalizeOrigin}: a browser sends `scheme://host[:port]` and
 * nothing else (RFC 6454 §7), so a value with a path, query, fragment or
 * credentials (`http://device/x`, `http://u@device`) is not an origin and
 * never matches.
 */
function originOfHeader(origin: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/?#@\\\s]+$/i.test(origin)) return undefined;
  return normalizeOrigin(origin);
}

function validateOrigins(policy: AllowedOrigins<never>): void {
  if (policy === 'same-host' || policy === '*' || typeof policy === 'function') return;
  if (!Array.isArray(policy))
    throw new TypeError(`@boardcast: allowedOrigins must be 'same-host', '*', a list or a function`);
  for (const origin of policy) {
    if (typeof origin !== 'string' || normalizeOrigin(origin) === undefined) {
      throw new TypeError(`@boardcast: allowedOrigins entry ${JSON.stringify(origin)} is not an origin URL`);
    }
  }
}

/** Whether `origin` is allowed for `request` under `policy`. */
export function isOriginAllowed<Raw>(
  policy: AllowedOrigins<Raw>,
  origin: string,
  request: BoardcastRequest<Raw>,
): boolean {
  if (policy === '*') return true;
  const normalized = originOfHeader(origin);
  if (typeof policy === 'function') return normalized !== undefined && policy(normalized, request) === true;
  if (normalized === undefined) return false;
  if (policy === 'same-host') {
    const host = request.host ?? request.header('host');
    if (!host) return false;
    // The page must come from this server as the client reaches it: same
    // host and port, and the same scheme — an `https://` page is another
    // origin than an `http://` server on the same port (RFC 6454). The
    // scheme is the request's (TLS here, or a trusted proxy's
    // X-Forwarded-Proto); a caller that does not know it compares hosts only.
    const scheme = request.protocol ?? normalized.slice(0, normalized.indexOf(':'));
    try {
      return new URL(`${scheme}://${host}`).origin === normalized;
    } catch {
      return false;
    }
  }
  return policy.some((allowed) => normalizeOrigin(allowed) === normalized);
}

// ----------------------------------------------------------- trustProxy

/**
 * Which peers are reverse proxies whose forwarding headers are believed,
 * as Express's `trust proxy` (off by default: a peer that is not listed
 * cannot make the server believe anything by sending these headers):
 * - a list of addresses and CIDR ranges (`'127.0.0.1'`, `'10.0.0.0/8'`,
 *   `'fd00::/8'`) and the names `'loopback'`, `'linklocal'`, `'uniquelocal'`;
 * - a predicate on the peer's normalized address;
 * - `{ addresses, headers: 'forwarded' }` to read RFC 7239 `Forwarded`
 *   instead of `X-Forwarded-For`/`-Host`/`-Proto` (the default,
 *   `'x-forwarded'`). Only one family is read: a proxy that sets one
 *   passes the other through from the client untouched, so reading both
 *   would let the client choose.
 *
 * When the peer is trusted, the client address is the right-most address
 * of the forwarding list that is not itself a trusted proxy (each proxy
 * appends the address it saw; what the client wrote is further left), the
 * public host the right-most `X-Forwarded-Host` and the scheme the
 * right-most `X-Forwarded-Proto` (with `Forwarded`: the right-most `host`
 * and `proto` among the elements trusted proxies wrote, RFC 7239 §4 — an
 * element further left, or left of one without `for`, may be the
 * client's own); they replace the peer's for per-address
 * limits, login throttling, the Host and Origin checks, secure cookies and
 * logs.
 */
export type TrustProxy =
  | readonly string[]
  | ((address: string) => boolean)
  | {
      readonly addresses: readonly string[] | ((address: string) => boolean);
      readonly headers?: 'x-forwarded' | 'forwarded';
    };

/** The peer of a connection, as the transport knows it. */
export interface PeerInfo {
  /** The socket's remote address (`socket.remoteAddress`). */
  readonly remoteAddress: string | undefined;
  /** True when the connection to this server is TLS. */
  readonly encrypted: boolean;
}

/** Who the client is, after the trusted proxies (see {@link TrustProxy}). */
export interface ClientInfo {
  /** The client's address, normalized (`::ffff:10.0.0.1` → `10.0.0.1`); undefined when unknown. */
  readonly clientAddress: string | undefined;
  /** `host[:port]` the client addressed, or undefined without `Host`. */
  readonly host: string | undefined;
  readonly protocol: 'http' | 'https';
  /** True when forwarding headers of a trusted proxy were used. */
  readonly forwarded: boolean;
}

/** `trustProxy` resolved: which peers are trusted, and who the client behind them is. */
export interface ProxyTrust {
  /** True when `address` is a trusted proxy. */
  trusts(address: string | undefined): boolean;
  /** The client of a request from `peer` with these headers. */
  resolve(peer: PeerInfo, header: (name: string) => string | undefined): ClientInfo;
}

/** Longest forwarding list read (entries further left are ignored); bounds the work an odd header costs. */
const MAX_FORWARDED_HOPS = 32;

function normalizeAddress(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const ip = parseIp(text);
  return ip ? formatIp(ip) : text;
}

/** `X-Forwarded-For` entry → address: bare, `[v6]`, `[v6]:port` or `v4:port` (some proxies add the port). */
function forwardedAddress(entry: string): string {
  const value = entry.trim().replace(/^"|"$/g, '');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed?.[1]) return bracketed[1];
  const v4port = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(value);
  if (v4port?.[1]) return v4port[1];
  return value;
}

/** Split a header list on commas outside double quotes. */
function splitList(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out.map((part) => part.trim()).filter((part) => part !== '');
}

/** RFC 7239 `Forwarded` → its elements' `for`, `host` and `proto` (lower-case keys, quotes removed). */
function parseForwarded(value: string): Array<Record<string, string>> {
  return splitList(value).map((element) => {
    const pairs: Record<string, string> = {};
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      pairs[pair.slice(0, eq).trim().toLowerCase()] = pair
        .slice(eq + 1)
        .trim()
        .replace(/^"|"$/g, '');
    }
    return pairs;
  });
}

const last = <T>(list: readonly T[]): T | undefined => list[list.length - 1];

/**
 * Build the check for `trustProxy`. Throws a `TypeError` naming the entry
 * for anything that is not an address, a CIDR range or a known name.
 */
export function createProxyTrust(trust: TrustProxy | undefined): ProxyTrust {
  const spec =
    typeof trust === 'object' && trust !== null && !Array.isArray(trust)
      ? (trust as Exclude<TrustProxy, readonly string[] | ((address: string) => boolean)>)
      : undefined;
  const addresses = (spec ? (spec as { addresses: unknown }).addresses : trust) as
    | readonly string[]
    | ((address: string) => boolean)
    | undefined;
  const headers = spec?.headers ?? 'x-forwarded';
  if (headers !== 'x-forwarded' && headers !== 'forwarded') {
    throw new TypeError(`@boardcast: trustProxy.headers must be 'x-forwarded' or 'forwarded'`);
  }
  let trusts: (address: string | undefined) => boolean;
  if (addresses === undefined) trusts = () => false;
  else if (typeof addresses === 'function') {
    trusts = (address) => address !== undefined && addresses(address) === true;
  } else if (Array.isArray(addresses)) {
    const ranges: IpRange[] = [];
    for (const entry of addresses) {
      if (typeof entry !== 'string')
        throw new TypeError(`@boardcast: trustProxy entry ${String(entry)} is not a string`);
      ranges.push(...parseIpRanges(entry));
    }
    trusts = (address) => {
      const ip = address === undefined ? undefined : parseIp(address);
      return ip !== undefined && ranges.some((range) => inRange(ip, range));
    };
  } else {
    throw new TypeError('@boardcast: trustProxy must be a list of addresses/CIDR ranges, a function or { addresses }');
  }
  const normalizedTrusts = (address: string | undefined) => trusts(normalizeAddress(address));

  return {
    trusts: normalizedTrusts,
    resolve(peer, header) {
      const direct: ClientInfo = {
        clientAddress: normalizeAddress(peer.remoteAddress),
        host: header('host'),
        protocol: peer.encrypted ? 'https' : 'http',
        forwarded: false,
      };
      if (!normalizedTrusts(peer.remoteAddress)) return direct;
      let client = direct.clientAddress;
      /** The next hop to the left: the address the proxy to its right saw; false when it is not a trusted proxy. */
      const step = (hop: string): boolean => {
        const address = forwardedAddress(hop);
        // Not an address (`unknown`, an obfuscated `_id`): the client is hidden; keep a bounded, printable token.
        client = parseIp(address) ? normalizeAddress(address) : address.slice(0, 64).replace(/[^\x21-\x7e]/g, '?');
        return normalizedTrusts(client);
      };
      let host: string | undefined;
      let proto: string | undefined;
      if (headers === 'forwarded') {
        // Walk the elements from the right. Each was written by a proxy: the
        // right-most by the peer, one further left only by a proxy the walk
        // has trusted so far; host and proto come only from those (a client
        // may write elements of its own on the left). An element without
        // `for` does not say whom its proxy heard: the walk stops there.
        for (const element of parseForwarded(header('forwarded') ?? '')
          .slice(-MAX_FORWARDED_HOPS)
          .reverse()) {
          host ??= element.host;
          proto ??= element.proto;
          if (element.for === undefined || !step(element.for)) break;
        }
      } else {
        // Walk from the right: each hop is the address the proxy to its right
        // saw; stop at the first that is not itself a trusted proxy.
        for (const hop of splitList(header('x-forwarded-for') ?? '')
          .slice(-MAX_FORWARDED_HOPS)
          .reverse()) {
          if (!step(hop)) break;
        }
        host = last(splitList(header('x-forwarded-host') ?? ''));
        proto = last(splitList(header('x-forwarded-proto') ?? ''));
      }
      const scheme = proto?.toLowerCase();
      return {
        clientAddress: client,
        host: host ?? direct.host,
        protocol: scheme === 'https' || scheme === 'http' ? scheme : direct.protocol,
        forwarded: true,
      };
    },
  };
}

/**
 * `request` with the client filled in: `clientAddress`, `host` and
 * `protocol` as `proxy` resolves them for `peer`. Endpoints call this once
 * per request, before any check.
 */
export function withClient<Raw>(
  request: BoardcastRequest<Raw>,
  proxy: ProxyTrust,
  peer: PeerInfo,
): BoardcastRequest<Raw> {
  const client = proxy.resolve(peer, (name) => request.header(name));
  return { ...request, clientAddress: client.clientAddress, host: client.host, protocol: client.protocol };
}

// ---------------------------------------------------------------- Policy

/** What happens to a client whose unsent data passes `highWaterMark`. */
export type SlowClientPolicy =
  /** Stop sending it events; once it has read its backlog send `reset` and a fresh snapshot (default). */
  | 'reset'
  /** Drop the connection; the client reconnects and resumes from its last id. */
  | 'disconnect';

/** The options every endpoint (SSE stream, commands, WebSocket, board link) takes, with one meaning. */
export interface EndpointPolicyOptions<Raw = unknown> {
  /** Open connections (streams or sockets) allowed at once; the next gets 503 `too_many_clients`. Default 1000. */
  readonly maxClients?: number;
  /** Open connections allowed from one remote address; the next gets 503 `too_many_clients`. Default: no per-address cap. */
  readonly maxClientsPerAddress?: number;
  /** Unsent bytes one client may hold in server memory before `slowClient` applies. Default 262144 (256 KiB). */
  readonly highWaterMark?: number;
  /** What happens to a client past `highWaterMark`. Default `'reset'`. */
  readonly slowClient?: SlowClientPolicy;
  /** Accepted `Origin`s; refusal is 403 `forbidden_origin`. Default `'same-host'`. */
  readonly allowedOrigins?: AllowedOrigins<Raw>;
  /** Accept requests without `Origin` (curl, devices, server-to-server). Default true. */
  readonly allowMissingOrigin?: boolean;
  /** Extra accepted `Host` names; refusal is 403 `forbidden_host`. See {@link AllowedHosts}. Default: none beyond the built-in ones. */
  readonly allowedHosts?: AllowedHosts;
  /** Gatekeeper for every connection and command; see {@link Authorize}. Default: none. */
  readonly authorize?: Authorize<Raw>;
  /**
   * How long `close()` lets connections finish on their own (ms) before it
   * destroys them; `close()` resolves within about this time whatever the
   * peers do. Default 5000.
   */
  readonly closeTimeoutMs?: number;
  /**
   * Reverse proxies whose `X-Forwarded-*` (or `Forwarded`) headers are
   * believed; see {@link TrustProxy}. Default: none — forwarding headers
   * are ignored and the peer is the client.
   */
  readonly trustProxy?: TrustProxy;
}

/** Defaults of {@link EndpointPolicyOptions}, one set for every transport. */
export const POLICY_DEFAULTS = {
  maxClients: 1000,
  maxClientsPerAddress: Number.POSITIVE_INFINITY,
  highWaterMark: 256 * 1024,
  slowClient: 'reset',
  allowedOrigins: 'same-host',
  allowMissingOrigin: true,
  closeTimeoutMs: 5000,
} as const;

/** {@link EndpointPolicyOptions} checked and filled in. */
export interface EndpointPolicy<Raw = unknown> {
  readonly maxClients: number;
  readonly maxClientsPerAddress: number;
  readonly highWaterMark: number;
  readonly slowClient: SlowClientPolicy;
  readonly allowedOrigins: AllowedOrigins<Raw>;
  readonly allowMissingOrigin: boolean;
  readonly hosts: HostCheck;
  readonly authorize: Authorize<Raw> | undefined;
  readonly closeTimeoutMs: number;
  /** `trustProxy`, resolved. */
  readonly proxy: ProxyTrust;
}

function count(owner: string, name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (value === Number.POSITIVE_INFINITY && fallback === Number.POSITIVE_INFINITY) return value;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${owner}: ${name} must be an integer >= ${min} (got ${String(value)})`);
  }
  return value;
}

/**
 * Check every option once, at construction, so a typo fails at startup.
 * Throws `RangeError`/`TypeError` naming `owner` (e.g. `@boardcast/ws-server`)
 * and the option.
 */
export function resolvePolicy<Raw>(
  owner: string,
  options: EndpointPolicyOptions<Raw>,
  environment: HostEnvironment = {},
): EndpointPolicy<Raw> {
  const slowClient = options.slowClient ?? POLICY_DEFAULTS.slowClient;
  if (slowClient !== 'reset' && slowClient !== 'disconnect') {
    throw new TypeError(`${owner}: slowClient must be 'reset' or 'disconnect' (got ${String(slowClient)})`);
  }
  const allowedOrigins = options.allowedOrigins ?? POLICY_DEFAULTS.allowedOrigins;
  validateOrigins(allowedOrigins as AllowedOrigins<never>);
  return {
    maxClients: count(owner, 'maxClients', options.maxClients, POLICY_DEFAULTS.maxClients, 0),
    maxClientsPerAddress: count(
      owner,
      'maxClientsPerAddress',
      options.maxClientsPerAddress,
      POLICY_DEFAULTS.maxClientsPerAddress,
      1,
    ),
    highWaterMark: count(owner, 'highWaterMark', options.highWaterMark, POLICY_DEFAULTS.highWaterMark, 1),
    slowClient,
    allowedOrigins,
    allowMissingOrigin: options.allowMissingOrigin ?? POLICY_DEFAULTS.allowMissingOrigin,
    hosts: createHostCheck(options.allowedHosts, environment),
    authorize: options.authorize,
    closeTimeoutMs: count(owner, 'closeTimeoutMs', options.closeTimeoutMs, POLICY_DEFAULTS.closeTimeoutMs, 1),
    proxy: createProxyTrust(options.trustProxy),
  };
}

/**
 * The request-level checks in their fixed order — `Host` (403
 * `forbidden_host`), then `Origin` (403 `forbidden_origin`) — so every
 * endpoint refuses the same request with the same code.
 */
export function checkRequest<Raw>(
  policy: Pick<EndpointPolicy<Raw>, 'hosts' | 'allowedOrigins' | 'allowMissingOrigin'>,
  request: BoardcastRequest<Raw>,
): BoardcastError | undefined {
  const hostError = checkHost(policy.hosts, request);
  if (hostError) return hostError;
  const origin = request.header('origin');
  if (origin === undefined) {
    return policy.allowMissingOrigin
      ? undefined
      : new BoardcastError('forbidden_origin', 'an Origin header is required');
  }
  if (isOriginAllowed(policy.allowedOrigins, origin, request)) return undefined;
  const shown = origin.slice(0, 100).replace(/[^\x20-\x7e]/g, '?');
  return new BoardcastError('forbidden_origin', `origin ${shown} is not allowed`);
}

/** Counts open connections per remote address for `maxClientsPerAddress`. */
export class AddressCounter {
  readonly #counts = new Map<string, number>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Take a slot for `address`; false when it already holds `limit` (nothing taken). */
  acquire(address: string | undefined): boolean {
    if (this.#limit === Number.POSITIVE_INFINITY) return true;
    const key = address ?? '';
    const n = this.#counts.get(key) ?? 0;
    if (n >= this.#limit) return false;
    this.#counts.set(key, n + 1);
    return true;
  }

  release(address: string | undefined): void {
    if (this.#limit === Number.POSITIVE_INFINITY) return;
    const key = address ?? '';
    const n = (this.#counts.get(key) ?? 0) - 1;
    if (n <= 0) this.#counts.delete(key);
    else this.#counts.set(key, n);
  }

  /** Connections counted for `address`. */
  count(address: string | undefined): number {
    return this.#counts.get(address ?? '') ?? 0;
  }
}
