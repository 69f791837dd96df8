import type { ClientContract, Contract, ContractSpec } from '@boardcast/core';
import { type ChannelClient, type ChannelClientOptions, createChannelClient } from './channel-client.js';
import type { ChannelTransport } from './channel-link.js';
import type { ShareOptions } from './share.js';
import { shareLazily } from './share-loader.js';
import { type SseChannelTransportOptions, sseChannelTransport } from './sse-channels.js';
import { wsChannelTransport } from './ws-channels.js';
import type { WsOptions } from './ws-transport.js';

/** Options of {@link connectChannelsSse}: the channel set, then the SSE options that apply to one. */
export type ChannelSseOptions<C extends ContractSpec> = ChannelClientOptions<C> &
  Omit<SseChannelTransportOptions, keyof ChannelClientOptions<C>>;

/** Options of {@link connectChannelsWs}: the channel set, then the WebSocket options that apply to one. */
export type ChannelWsOptions<C extends ContractSpec> = ChannelClientOptions<C> &
  Omit<WsOptions<C>, keyof ChannelClientOptions<C> | 'lastEventId' | 'initialState'>;

/** Options of {@link connectChannels}: `transport` (default `sse`), then that transport's options. */
export type ChannelConnectOptions<C extends ContractSpec> =
  | ({ readonly transport?: 'sse' } & ChannelSseOptions<C>)
  | ({ readonly transport: 'ws' } & ChannelWsOptions<C>);

/**
 * Connect naming channels: one connection carries the set in `channels`
 * (ids, `prefix*` patterns, `~directory`, `{ channel, since, state }`;
 * default empty), changed later with `client.subscribe` /
 * `client.unsubscribe` without reloading. `url` is the server's base, as
 * for `connect`. This entry (`@boardcast/browser-client/channels`) keeps the
 * channel code out of pages that use `connectSse`/`connectWs` alone; a page
 * that calls only {@link connectChannelsSse} or {@link connectChannelsWs}
 * also leaves the other transport out (about 2 KB min+gzip).
 */
export function connectChannels<C extends ContractSpec>(
  url: string,
  contract: Contract<C> | C | ClientContract<C>,
  options: ChannelConnectOptions<C> = {},
): ChannelClient<C> {
  return options.transport === 'ws'
    ? connectChannelsWs(url, contract, options)
    : connectChannelsSse(url, contract, options);
}

/** {@link connectChannels} over Server-Sent Events only. */
export function connectChannelsSse<C extends ContractSpec>(
  url: string,
  contract: Contract<C> | C | ClientContract<C>,
  options: ChannelSseOptions<C> = {},
): ChannelClient<C> {
  const names = options.events ?? Object.keys(contract.events);
  return createChannelClient(
    contract,
    shared(sseChannelTransport(url, names, options), contract, url, options),
    options,
  );
}

/** The transport shared with the other tabs of the same server, credential and options (see share-channels.ts). */
const shared = <C extends ContractSpec>(
  transport: ChannelTransport,
  contract: Contract<C> | C | ClientContract<C>,
  url: string,
  options: ChannelClientOptions<C> & ShareOptions,
) =>
  shareLazily(transport, contract, url, options, () =>
    import('./share-channels.js').then((m) => m.channelShareModel(contract, options.directory)),
  );

/** {@link connectChannels} over WebSocket only. */
export function connectChannelsWs<C extends ContractSpec>(
  url: string,
  contract: Contract<C> | C | ClientContract<C>,
  options: ChannelWsOptions<C> = {},
): ChannelClient<C> {
  return createChannelClient(contract, shared(wsChannelTransport(url, options), contract, url, options), options);
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
