import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Authorize } from '@boardcast/core';
import type { PerMessageDeflateOptions } from 'ws';

/** Which browser origins may open a socket. */
export type OriginPolicy =
  /** Only pages served from the same host:port as the endpoint (compares `Origin` with `Host`). */
  | 'same-host'
  /** Any origin (only for public, unauthenticated data). */
  | '*'
  /** Exactly these origins, e.g. `['https://panel.example.com']`. */
  | readonly string[]
  /** Your own decision. */
  | ((origin: string, request: IncomingMessage) => boolean);

/** What to do with a client whose unsent data passes `highWaterMark`. */
export type BackpressurePolicy =
  /** Stop sending it events; once its buffer has drained send `reset` and a fresh `snapshot`. */
  | 'reset'
  /** Close it with 1013 (try again later); the client reconnects and resumes. */
  | 'close';

export interface WsEndpointOptions {
  /** Attach to this server's `upgrade` event. Without it, call `endpoint.handleUpgrade` yourself. */
  readonly server?: HttpServer | HttpsServer | undefined;
  /** URL path of the endpoint (default `/ws`). Upgrades for other paths are left alone. */
  readonly path?: string;
  /** Largest accepted client frame in bytes (default 65536, at least 256); larger frames close the socket with 1009. */
  readonly maxPayload?: number;
  /** Most simultaneous sockets (default 10000); more are refused with HTTP 503 before upgrading. */
  readonly maxClients?: number;
  /** Most commands one socket may have running (default 16); more are answered `too_many_requests`. */
  readonly maxInFlight?: number;
  /** Send a WebSocket ping this often (ms, default 30000); a socket that has not answered the previous one is terminated. 0 disables. */
  readonly heartbeatMs?: number;
  /** Unsent bytes per socket above which the backpressure policy applies (default 1 MiB). */
  readonly highWaterMark?: number;
  /** Backpressure policy (default `'reset'`). */
  readonly backpressure?: BackpressurePolicy;
  /** Allowed `Origin`s (default `'same-host'`). */
  readonly origins?: OriginPolicy;
  /** Accept requests without an `Origin` header — non-browser clients (default true). */
  readonly allowMissingOrigin?: boolean;
  /**
   * Decide whether a request may connect, before the upgrade. It gets core's
   * `BoardcastRequest` (`method`, `url`, `header(name)`, `raw` = the upgrade
   * `IncomingMessage`), the same shape sse-server passes, so one hook can
   * guard both. Return a value (passed to command handlers as
   * `context.auth`), return `false` (401), or throw a `BoardcastError` such
   * as `unauthorized` (401) or `forbidden` (403).
   */
  readonly authorize?: Authorize<IncomingMessage>;
  /** permessage-deflate (default false: compression costs CPU and memory per socket, and every event is compressed once per socket). */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** After sending a close frame, terminate a socket that has not finished closing within this many ms (default 5000). */
  readonly closeTimeoutMs?: number;
}

export interface ResolvedOptions {
  readonly path: string;
  readonly maxPayload: number;
  readonly maxClients: number;
  readonly maxInFlight: number;
  readonly heartbeatMs: number;
  readonly highWaterMark: number;
  readonly backpressure: BackpressurePolicy;
  readonly origins: OriginPolicy;
  readonly allowMissingOrigin: boolean;
  readonly authorize: Authorize<IncomingMessage> | undefined;
  readonly perMessageDeflate: boolean | PerMessageDeflateOptions;
  readonly closeTimeoutMs: number;
}

function integer(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`@boardcast/ws-server: ${name} must be an integer >= ${min} (got ${String(value)})`);
  }
  return value;
}

/** Checks every option once, at construction, so a typo fails at startup rather than at the first client. */
export function resolveOptions(options: WsEndpointOptions): ResolvedOptions {
  const path = options.path ?? '/ws';
  if (!path.startsWith('/') || path.includes('?')) {
    throw new TypeError(`@boardcast/ws-server: path must start with "/" and have no query (got "${path}")`);
  }
  const backpressure = options.backpressure ?? 'reset';
  if (backpressure !== 'reset' && backpressure !== 'close') {
    throw new TypeError(`@boardcast/ws-server: backpressure must be "reset" or "close"`);
  }
  const origins = options.origins ?? 'same-host';
  if (Array.isArray(origins)) {
    for (const origin of origins) {
      if (typeof origin !== 'string' || !URL.canParse(origin)) {
        throw new TypeError(`@boardcast/ws-server: origins entry "${String(origin)}" is not an origin URL`);
      }
    }
  }
  return {
    path,
    maxPayload: integer('maxPayload', options.maxPayload, 65536, 256),
    maxClients: integer('maxClients', options.maxClients, 10_000, 1),
    maxInFlight: integer('maxInFlight', options.maxInFlight, 16, 1),
    heartbeatMs: integer('heartbeatMs', options.heartbeatMs, 30_000, 0),
    highWaterMark: integer('highWaterMark', options.highWaterMark, 1024 * 1024, 1),
    backpressure,
    origins,
    allowMissingOrigin: options.allowMissingOrigin ?? true,
    authorize: options.authorize,
    perMessageDeflate: options.perMessageDeflate ?? false,
    closeTimeoutMs: integer('closeTimeoutMs', options.closeTimeoutMs, 5000, 1),
  };
}
