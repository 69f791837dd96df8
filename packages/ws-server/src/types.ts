import type { ContractSpec, Hub } from '@boardcast/core';
import type { SlowClientPolicy } from '@boardcast/core/server';
import type { WireFrame } from '@boardcast/core/wire';

/** One connected socket, as reported in lifecycle events. */
export interface WsClientInfo {
  /** Unique per endpoint; also `context.clientId` in command handlers. */
  readonly id: string;
  /** The client's address: the peer's, or with `trustProxy` the one the trusted proxy forwarded. */
  readonly remoteAddress: string | undefined;
  readonly origin: string | undefined;
  /** What `authorize` returned (undefined without `authorize`). */
  readonly auth: unknown;
  /** The `?lastEventId=` the client resumed from, if any. */
  readonly lastEventId: string | undefined;
  /** The `?events=` filter, if any. */
  readonly events: ReadonlySet<string> | undefined;
  /**
   * The channels named by `?channels=` at connect (ids, `prefix*`,
   * `~directory`), or `undefined` for a connection that names none (the
   * 0.1 stream). `subscribe`/`unsubscribe` frames change the set later.
   */
  readonly channels: readonly string[] | undefined;
  /** `Date.now()` at connect. */
  readonly connectedAt: number;
}

/** Why a socket ended. */
export type WsDisconnectCause =
  /** The client closed it or went away. */
  | 'client'
  /** It did not answer a heartbeat ping in time. */
  | 'heartbeat'
  /** Its send buffer passed the high-water mark with `slowClient: 'disconnect'`. */
  | 'backpressure'
  /** It broke the protocol (bad frame, too large, binary). */
  | 'protocol'
  /** The endpoint was closed. */
  | 'shutdown'
  /** A socket error (reset connection …). */
  | 'error'
  /** The credential's `expiresAt` (from `authorize`) passed: closed with 1008 after an `unauthorized` error. */
  | 'expired'
  /** The viewer may no longer see the default channel of a connection that names no channels (1008). */
  | 'forbidden'
  /** It kept sending `subscribe` frames over its `channelsPerSecond` budget (1008 after a `too_many_requests` error). */
  | 'too_many_requests';

export interface WsDisconnectReason {
  /** The close code sent (ours) or received (the client's); 1006 when the socket was dropped. */
  readonly code: number;
  readonly reason: string;
  readonly cause: WsDisconnectCause;
}

/** An upgrade refused before any WebSocket was created. */
export interface WsRejection {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly remoteAddress: string | undefined;
  readonly origin: string | undefined;
}

export type WsEndpointEvents = {
  connect: (client: WsClientInfo) => void;
  disconnect: (client: WsClientInfo, reason: WsDisconnectReason) => void;
  reject: (rejection: WsRejection) => void;
  /** A socket passed the high-water mark; `policy` says what was done about it. */
  backpressure: (client: WsClientInfo, policy: SlowClientPolicy) => void;
};

/** The part of a hub the endpoint uses; any `Hub<C>` fits. */
export type HubLike = Pick<
  Hub<ContractSpec>,
  'attach' | 'connect' | 'dispatch' | 'access' | 'contract' | 'on' | 'emit'
>;

/** What a connection needs from its endpoint. */
export interface ConnectionHost {
  readonly hub: HubLike;
  readonly maxPayload: number;
  readonly maxInFlight: number;
  /** `subscribe` budget per socket, in channels: `rate` per second (0: none), `burst` at once. */
  readonly channelsPerSecond: number;
  readonly channelBurst: number;
  readonly highWaterMark: number;
  readonly slowClient: SlowClientPolicy;
  readonly closeTimeoutMs: number;
  /** The frame's bytes, encoded once for all sockets. */
  frameFor(frame: WireFrame): Buffer;
  report<K extends keyof WsEndpointEvents>(event: K, ...args: Parameters<WsEndpointEvents[K]>): void;
  /** An operational error no client sees: goes to the hub's `error` event (`where` prefixed with `ws-server`). */
  error(error: unknown, where: string): void;
}
