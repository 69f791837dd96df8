import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type EndpointPolicy,
  type EndpointPolicyOptions,
  resolvePolicy,
  type UpgradeServer,
} from '@boardcast/core/server';
import type { PerMessageDeflateOptions } from 'ws';
import { hostEnvironment } from './environment.js';

/**
 * Any server that emits `upgrade` like node:http does: node:http and
 * node:https servers, and what @hono/node-server's `serve()` returns.
 */
export type WsUpgradeServer = UpgradeServer<IncomingMessage, Duplex, Buffer>;

/**
 * The options shared with sse-server (`maxClients`, `maxClientsPerAddress`,
 * `highWaterMark`, `slowClient`, `allowedOrigins`, `allowMissingOrigin`,
 * `allowedHosts`, `authorize`, `closeTimeoutMs`: core's
 * `EndpointPolicyOptions`, same names, defaults and units), plus the socket's own.
 */
export interface WsEndpointOptions extends EndpointPolicyOptions<IncomingMessage> {
  /**
   * Take this server's upgrades for `path` (through core's upgrade registry,
   * which also answers upgrades no endpoint takes with 404 and closes them).
   * Without it, call `endpoint.handleUpgrade` yourself.
   */
  readonly server?: WsUpgradeServer | undefined;
  /** URL path of the endpoint (default `/ws`). Upgrades for other paths are left alone. */
  readonly path?: string;
  /** Largest accepted client frame in bytes (default 65536, at least 256); larger frames close the socket with 1009. */
  readonly maxPayload?: number;
  /** Most commands one socket may have running (default 16); more are answered `too_many_requests`. */
  readonly maxInFlight?: number;
  /**
   * Channels per second one socket may name in `subscribe` frames (default
   * 200; 0 disables), with bursts of `channelBurst`. A frame costs one per
   * channel it names (at least 1, at most the burst). A frame over the
   * budget is answered `too_many_requests` and adds nothing; a socket whose
   * refused frames since its last admitted one name `channelBurst` channels
   * more gets an `error` frame (`too_many_requests`) and is closed with 1008.
   * `?channels=` at connect is not counted (one request, at most 1000).
   */
  readonly channelsPerSecond?: number;
  /**
   * Channels one socket may name in `subscribe` frames at once (default
   * 2000: a page re-subscribing a full set of `maxChannelsPerConnection`,
   * 1000 by default, twice over, without waiting).
   */
  readonly channelBurst?: number;
  /**
   * Send a WebSocket ping this often (ms, default 15000, the SSE keep-alive
   * period); a socket that has not answered the previous one is terminated,
   * so a dead peer is noticed within two intervals. 0 disables.
   */
  readonly keepAliveMs?: number;
  /** permessage-deflate (default false: compression costs CPU and memory per socket, and every event is compressed once per socket). */
  readonly perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

export interface ResolvedOptions {
  readonly policy: EndpointPolicy<IncomingMessage>;
  readonly path: string;
  readonly maxPayload: number;
  readonly maxInFlight: number;
  readonly channelsPerSecond: number;
  readonly channelBurst: number;
  readonly keepAliveMs: number;
  readonly perMessageDeflate: boolean | PerMessageDeflateOptions;
}

const OWNER = '@boardcast/ws-server';

function integer(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${OWNER}: ${name} must be an integer >= ${min} (got ${String(value)})`);
  }
  return value;
}

/**
 * Option names 0.1 accepted as aliases, removed in 0.2. A JavaScript caller
 * (no type check) still passing one gets a TypeError naming the new option
 * instead of an option silently ignored.
 */
const RENAMED: Readonly<Record<string, string>> = {
  heartbeatMs: 'keepAliveMs',
  backpressure: "slowClient ('close' is now 'disconnect')",
  origins: 'allowedOrigins',
};

/** Checks every option once, at construction, so a typo fails at startup rather than at the first client. */
export function resolveOptions(options: WsEndpointOptions): ResolvedOptions {
  const path = options.path ?? '/ws';
  if (!path.startsWith('/') || path.includes('?')) {
    throw new TypeError(`${OWNER}: path must start with "/" and have no query (got "${path}")`);
  }
  for (const [old, replacement] of Object.entries(RENAMED)) {
    if (old in options) throw new TypeError(`${OWNER}: option "${old}" was removed in 0.2; use ${replacement}`);
  }
  const policy = resolvePolicy(OWNER, options, hostEnvironment());
  return {
    policy,
    path,
    maxPayload: integer('maxPayload', options.maxPayload, 65536, 256),
    maxInFlight: integer('maxInFlight', options.maxInFlight, 16, 1),
    channelsPerSecond: integer('channelsPerSecond', options.channelsPerSecond, 200, 0),
    channelBurst: integer('channelBurst', options.channelBurst, 2000, 1),
    keepAliveMs: integer('keepAliveMs', options.keepAliveMs, 15_000, 0),
    perMessageDeflate: options.perMessageDeflate ?? false,
  };
}
