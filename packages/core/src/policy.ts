/**
 * The connection policy every server endpoint shares (SSE stream, HTTP
 * commands, WebSocket, board link): which `Host` and `Origin` headers are
 * accepted, how many clients, what happens to a slow one, how long a
 * shutdown may take. Written once here so both transports use the same
 * option names, defaults and normalization. No Node APIs: the server
 * packages pass `os.hostname()` and `os.networkInterfaces()` in.
 */
import { BoardcastError } from './errors.js';
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
export function checkHost(check: HostCheck, request: Pick<BoardcastRequest, 'header'>): BoardcastError | undefined {
  const host = request.header('host');
  if (check.allows(host)) return undefined;
  const shown = (host ?? '').slice(0, 100).replace(/[^\x20-\x7e]/g, '?');
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
  const normalized = normalizeOrigin(origin);
  if (typeof policy === 'function') return normalized !== undefined && policy(normalized, request) === true;
  if (normalized === undefined) return false;
  if (policy === 'same-host') {
    const host = request.header('host');
    if (!host) return false;
    try {
      // Parse Host with the origin's scheme so default ports compare equal.
      const scheme = normalized.slice(0, normalized.indexOf(':'));
      return new URL(`${scheme}://${host}`).origin === normalized;
    } catch {
      return false;
    }
  }
  return policy.some((allowed) => normalizeOrigin(allowed) === normalized);
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
