import type { ClientContract, Contract, ContractSpec } from '@boardcast/core';
import type { BoardcastClient } from './client.js';
import { connectSse } from './sse.js';
import type { SseOptions } from './sse-options.js';
import { connectWs } from './ws.js';
import type { WsOptions } from './ws-transport.js';

export type ConnectOptions<C extends ContractSpec> =
  | ({ readonly transport?: 'sse' } & SseOptions<C>)
  | ({ readonly transport: 'ws' } & WsOptions<C>);

/**
 * Connect to a boardcast server. `url` is the base the server is mounted at:
 * `connect('/api', contract)` streams `GET /api/events` and posts commands to
 * `/api/commands/<name>`; with `{ transport: 'ws' }` it opens `/api/ws`.
 * Each URL can be overridden (`eventsUrl`, `commandsUrl`, `wsUrl`).
 *
 * `contract` is the server's contract, or just what the client uses of it at
 * runtime — the event names as keys and the reducers — with its type given
 * explicitly: `connect<typeof contract>('/api', { events: { led: 1 }, reducers })`
 * keeps the contract's schema library out of the page's bundle.
 */
export function connect<C extends ContractSpec>(
  url: string,
  contract: Contract<C> | C | ClientContract<C>,
  options: ConnectOptions<C> = {},
): BoardcastClient<C> {
  return options.transport === 'ws' ? connectWs(url, contract, options) : connectSse(url, contract, options);
}

export { BoardcastError, isBoardcastError } from '@boardcast/core';
export type { ServerStatus } from '@boardcast/core/wire';
export { backoffDelay, MIN_RETRY_DELAY_MS, STABLE_CONNECTION_MS } from './backoff.js';
export * from './client-exports.js';
export type { HeaderSource, HttpOptions } from './http.js';
export { type ClientLease, createClientLease } from './lease.js';
export { connectSse } from './sse.js';
export { createSseDecoder, type SseDecoder, type SseDecoderHandlers, type SseMessage } from './sse-decoder.js';
export type { SseOptions } from './sse-options.js';
export { connectWs } from './ws.js';
export type { WebSocketClass, WsOptions } from './ws-transport.js';
