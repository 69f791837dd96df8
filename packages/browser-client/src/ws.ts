import type { ClientContract, Contract, ContractSpec } from '@boardcast/core';
import { type BoardcastClient, createClient } from './client.js';
import { shareLazily } from './share-loader.js';
import { type WsOptions, wsTransport } from './ws-transport.js';

/**
 * Connect over WebSocket (`<url>/ws`, subprotocol `boardcast.v1`); commands
 * travel as envelopes on the same socket. This entry
 * (`@boardcast/browser-client/ws`) leaves the SSE code out of a page's bundle.
 */
export function connectWs<C extends ContractSpec>(
  url: string,
  contract: Contract<C> | C | ClientContract<C>,
  options: WsOptions<C> = {},
): BoardcastClient<C> {
  return createClient(contract, shareLazily(wsTransport(url, contract, options), contract, url, options), options);
}

export * from './client-exports.js';
export type { WebSocketClass, WsOptions } from './ws-transport.js';
