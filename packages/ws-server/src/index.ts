export { WS_PROTOCOL } from '@boardcast/core/wire';
export { createWsEndpoint, WsEndpoint } from './endpoint.js';
export type {
  ResolvedOptions as WsResolvedOptions,
  WsEndpointOptions,
  WsUpgradeServer,
} from './options.js';
export type {
  HubLike,
  WsClientInfo,
  WsDisconnectCause,
  WsDisconnectReason,
  WsEndpointEvents,
  WsRejection,
} from './types.js';
