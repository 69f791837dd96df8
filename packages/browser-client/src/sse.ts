import type { ClientContract, Contract, ContractSpec } from '@boardcast/core';
import { type BoardcastClient, createClient } from './client.js';
import { shareLazily } from './share-loader.js';
import type { SseOptions } from './sse-options.js';
import { sseTransport } from './sse-transport.js';

/**
 * Connect over Server-Sent Events: the stream is `GET <url>/events`, commands
 * are `POST <url>/commands/<name>`. This entry (`@boardcast/browser-client/sse`)
 * leaves the WebSocket code out of a page's bundle.
 */
export function connectSse<C extends ContractSpec>(
  url: string,
  contract: Contract<C> | C | ClientContract<C>,
  options: SseOptions<C> = {},
): BoardcastClient<C> {
  return createClient(contract, shareLazily(sseTransport(url, contract, options), contract, url, options), options);
}

export * from './client-exports.js';
export type { HeaderSource, HttpOptions } from './http.js';
export type { SseOptions } from './sse-options.js';
