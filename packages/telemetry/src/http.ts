import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname, networkInterfaces } from 'node:os';
import { type Authorize, BoardcastError, type BoardcastRequest } from '@boardcast/core';
import {
  type AllowedHosts,
  type AllowedOrigins,
  authorizeRequest,
  checkRequest,
  type EndpointPolicy,
  errorReply,
  fromFetchRequest,
  fromNodeRequest,
  type HostEnvironment,
  type HttpReply,
  jsonReply,
  resolvePolicy,
  type TrustProxy,
} from '@boardcast/core/server';
import type { TelemetryStore } from './types.js';
import { checkName, DEFAULT_CHANNEL } from './validate.js';

/** Who may read which channel: core's access policy shape (`hub.access` fits). */
export interface ChannelAccess {
  canSee(principal: unknown, channel: string): boolean | Promise<boolean>;
}

export interface TelemetryRoutesOptions {
  /** Origins allowed to query (core's `AllowedOrigins`, as the SSE and command endpoints). Default `'same-host'`. */
  readonly allowedOrigins?: AllowedOrigins<IncomingMessage | Request>;
  /** Accept requests without `Origin` (curl, scripts). Default true. */
  readonly allowMissingOrigin?: boolean;
  /** Extra `Host` names this server answers to; others get 403 `forbidden_host`. */
  readonly allowedHosts?: AllowedHosts;
  /**
   * Reverse proxies whose forwarding headers are believed (core's
   * `TrustProxy`: the same option, with the same meaning, as in sse-server
   * and ws-server): a list of addresses and CIDR ranges (`'127.0.0.1'`,
   * `'10.0.0.0/8'`, `'loopback'` …), a predicate on the peer's address, or
   * `{ addresses, headers: 'forwarded' }` to read RFC 7239 `Forwarded`
   * instead of `X-Forwarded-*`. From a trusted peer the client address
   * (`request.clientAddress` in `authorize`), the public host and the scheme
   * come from those headers, so the Host and Origin checks see the page's
   * public origin; from any other peer they are ignored. Default: none —
   * the peer is the client.
   */
  readonly trustProxy?: TrustProxy;
  /**
   * The same hook the other endpoints take, judged by the same rule (core's
   * `authorizeRequest`): `false` or a credential whose `expiresAt` has
   * passed is 401 `unauthorized`; a thrown `BoardcastError` is answered as
   * it is (a 429 with `details.retryAfterMs` carries `Retry-After`);
   * anything else thrown is 500 `handler_failed`. Its value is the
   * principal `access` judges.
   */
  readonly authorize?: Authorize;
  /** Which channels a principal may query; pass `hub.access`. Default: every channel. */
  readonly access?: ChannelAccess;
  /** Extra headers on every response. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Failures of the store or of `authorize` (answered 500 `handler_failed`, no detail sent). */
  readonly onError?: (error: unknown, where: string) => void;
  /**
   * The recorder writing this store (`record(hub, store)`): flushed before
   * each `query`, `stats` and `recent` is answered, so the answer and its
   * cursor include every reading the hub delivered before the request. A
   * page connected to the hub (snapshot at id S) then fetches history whose
   * cursor covers every reading up to S, and keeps exactly the live
   * readings after the cursor.
   */
  readonly recorder?: { flush(): Promise<void> };
  /** The server clock for `last=` ranges and a credential's `expiresAt`, ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

function hostEnvironment(): HostEnvironment {
  try {
    return { hostname: hostname(), interfaces: networkInterfaces() };
  } catch {
    return {};
  }
}

function bad(message: string): BoardcastError {
  return new BoardcastError('invalid_payload', message);
}

function int(params: URLSearchParams, name: string, required: boolean): number | undefined {
  const text = params.get(name);
  if (text === null || text === '') {
    if (required) throw bad(`${name} is required`);
    return undefined;
  }
  if (!/^-?\d{1,16}$/.test(text)) throw bad(`${name} must be an integer`);
  return Number(text);
}

/**
 * Read-only HTTP routes for charts, framework-neutral like sse-server's
 * endpoints (`node(req, res)` and `fetch(request)`), with the same
 * Host/Origin policy (core's `resolvePolicy`/`checkRequest`), the same
 * `authorize` hook and, per request, the channel access policy. GET only;
 * the last path segment picks the answer, so mount it anywhere:
 *
 * - `…/query?sensor=&channel=&from=|last=&to=&points=` → `ChartResult`
 * - `…/stats?sensor=&channel=&from=|last=&to=` → `Stats` or `null`
 * - `…/latest?channel=&sensor=` → `LatestReading[]`
 * - `…/recent?sensor=&channel=&limit=` → `StoredReading[]`
 *
 * `from`/`to` are ms since the epoch; `last=<ms>` means `from = now - last`
 * (open-ended, the hand-over form). Bad parameters: 400 `invalid_payload`;
 * a channel the principal may not see: 403 `forbidden`; unknown path: 404
 * `not_found`; other methods: 405.
 */
export class TelemetryRoutes {
  readonly #store: TelemetryStore;
  readonly #policy: EndpointPolicy<IncomingMessage | Request>;
  readonly #options: TelemetryRoutesOptions;

  constructor(store: TelemetryStore, options: TelemetryRoutesOptions = {}) {
    this.#store = store;
    this.#options = options;
    this.#policy = resolvePolicy(
      '@boardcast/telemetry routes',
      {
        allowedOrigins: options.allowedOrigins,
        allowMissingOrigin: options.allowMissingOrigin,
        allowedHosts: options.allowedHosts,
        trustProxy: options.trustProxy,
      },
      hostEnvironment(),
    );
  }

  /** node:http / Express handler. */
  readonly node = (req: IncomingMessage, res: ServerResponse): void => {
    const info = fromNodeRequest(req, this.#policy.proxy);
    void this.#run(info).then((reply) => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(reply.status, reply.headers);
      res.end(reply.body);
    });
  };

  /**
   * Fetch handler (Hono, Next.js, Bun, Deno). A `Request` carries no peer
   * address; pass it as `peer.remoteAddress` (Hono:
   * `getConnInfo(c).remote.address`) for `trustProxy` to judge the peer and
   * for `authorize` to see it as `request.clientAddress`.
   */
  readonly fetch = async (request: Request, peer: { readonly remoteAddress?: string } = {}): Promise<Response> => {
    const info = fromFetchRequest(request, this.#policy.proxy, peer.remoteAddress);
    const reply = await this.#run(info);
    return new Response(reply.body, { status: reply.status, headers: reply.headers });
  };

  #reply(value: unknown): HttpReply {
    return jsonReply(200, JSON.stringify(value), this.#options.headers);
  }

  #error(error: BoardcastError, extra?: Record<string, string>): HttpReply {
    return errorReply(error, { ...this.#options.headers, ...extra });
  }

  async #run(info: BoardcastRequest<IncomingMessage | Request>): Promise<HttpReply> {
    try {
      const refused = checkRequest(this.#policy, info);
      if (refused) return this.#error(refused);
      if (info.method !== 'GET' && info.method !== 'HEAD') {
        return this.#error(new BoardcastError('method_not_allowed', `${info.method} is not allowed; use GET`), {
          Allow: 'GET, HEAD',
        });
      }
      const outcome = await authorizeRequest(
        this.#options.authorize,
        info,
        (error) => this.#options.onError?.(error, 'telemetry authorize'),
        this.#options.now, // the clock of `last=` judges `expiresAt` too
      );
      if (!outcome.ok) return this.#error(outcome.error);
      return await this.#answer(info.url, outcome.auth);
    } catch (error) {
      if (error instanceof BoardcastError) return this.#error(error);
      this.#options.onError?.(error, 'telemetry route');
      return this.#error(new BoardcastError('handler_failed', 'telemetry query failed'));
    }
  }

  async #visible(principal: unknown, channel: string): Promise<void> {
    const access = this.#options.access;
    if (access && !(await access.canSee(principal, channel))) {
      throw new BoardcastError('forbidden', `channel ${channel} is not visible to this client`);
    }
  }

  async #answer(url: URL, principal: unknown): Promise<HttpReply> {
    const params = url.searchParams;
    const route = url.pathname.replace(/\/+$/, '').split('/').pop();
    const channelParam = params.get('channel');
    const channel = channelParam === null ? DEFAULT_CHANNEL : checkName(channelParam, 'channel');
    const store = this.#store;
    const range = () => {
      const last = int(params, 'last', false);
      const from = last !== undefined ? (this.#options.now ?? Date.now)() - last : int(params, 'from', true);
      if (last !== undefined && !(last > 0)) throw bad('last must be a positive number of ms');
      return { channel, sensor: params.get('sensor') ?? '', from: from as number, to: int(params, 'to', false) };
    };
    const flushed = async () => {
      await this.#options.recorder?.flush();
      return store;
    };
    switch (route) {
      case 'query': {
        await this.#visible(principal, channel);
        const query = { ...range(), maxPoints: int(params, 'points', true) as number };
        return this.#reply(await (await flushed()).query(query));
      }
      case 'stats': {
        await this.#visible(principal, channel);
        const query = range();
        return this.#reply((await (await flushed()).stats(query)) ?? null);
      }
      case 'recent': {
        await this.#visible(principal, channel);
        const limit = int(params, 'limit', false);
        return this.#reply(await (await flushed()).recent({ channel, sensor: params.get('sensor') ?? '', limit }));
      }
      case 'latest': {
        const sensor = params.get('sensor');
        const filter = {
          ...(channelParam === null ? {} : { channel }),
          ...(sensor === null ? {} : { sensor }),
        };
        const rows = await store.latest(filter);
        const visible = [];
        const allowed = new Map<string, boolean>();
        for (const row of rows) {
          let ok = allowed.get(row.channel);
          if (ok === undefined) {
            ok = !this.#options.access || (await this.#options.access.canSee(principal, row.channel));
            allowed.set(row.channel, ok);
          }
          if (ok) visible.push(row);
        }
        if (channelParam !== null) await this.#visible(principal, channel);
        return this.#reply(visible);
      }
      default:
        return this.#error(new BoardcastError('not_found', 'no telemetry route here (query, stats, latest, recent)'));
    }
  }
}

/** Build the chart routes for a store; see {@link TelemetryRoutes}. */
export function createTelemetryRoutes(store: TelemetryStore, options: TelemetryRoutesOptions = {}): TelemetryRoutes {
  return new TelemetryRoutes(store, options);
}
