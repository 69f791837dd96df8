import type { ClientContract, Contract, ContractSpec } from '@boardcast/core';
import { type ChannelClient, type ChannelClientOptions, createChannelClient } from './channel-client.js';
import { type SseChannelTransportOptions, sseChannelTransport } from './sse-channels.js';
import { wsChannelTransport } from './ws-channels.js';
import type { WsOptions } from './ws-transport.js';

/** Options of {@link connectChannels}: the channel set, then the transport's own options. */
export type ChannelConnectOptions<C extends ContractSpec> = ChannelClientOptions<C> &
  (
    | ({ readonly transport?: 'sse' } & Omit<SseChannelTransportOptions, keyof ChannelClientOptions<C>>)
    | ({ readonly transport: 'ws' } & Omit<
        WsOptions<C>,
        keyof ChannelClientOptions<C> | 'lastEventId' | 'initialState'
      >)
  );

/**
 * Connect naming channels: one connection carries the set in `channels`
 * (ids, `prefix*` patterns, `~directory`, `{ channel, since, state }`;
 * default empty), changed later with `client.subscribe` /
 * `client.unsubscribe` without reloading. `url` is the server's base, as
 * for `connect`. This entry (`@boardcast/browser-client/channels`) keeps the
 * channel code out of pages that use `connectSse`/`connectWs` alone.
 */
export function connectChannels<C extends ContractSpec>(
  url: string,
  contract: Contract<C> | C | ClientContract<C>,
  options: ChannelConnectOptions<C> = {},
): ChannelClient<C> {
  const transport =
    options.transport === 'ws'
      ? wsChannelTransport(url, options)
      : sseChannelTransport(url, options.events ?? Object.keys(contract.events), options);
  return createChannelClient(contract, transport, options);
}

export type {
  ChannelClient,
  ChannelClientOptions,
  ChannelCommandOptions,
  ChannelSubscription,
  ChannelView,
  DirectoryView,
} from './channel-client.js';
export type { DirectoryQuery } from './channel-link.js';
