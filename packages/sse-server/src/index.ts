export { type BodySource, type JsonBodyOptions, readJsonBody, readJsonFrom } from './body.js';
export {
  type CommandEndpoint,
  type CommandEndpointEvents,
  type CommandEndpointOptions,
  createCommandEndpoint,
  type FastifyReplyLike,
  type FastifyRequestLike,
} from './command-endpoint.js';
export {
  createDirectoryEndpoint,
  type DirectoryEndpoint,
  type DirectoryEndpointEvents,
  type DirectoryEndpointOptions,
} from './directory-endpoint.js';
export {
  createHostGuard,
  DEFAULT_SECURITY_HEADERS,
  DEFAULT_SERVER_TIMEOUTS,
  type ServerTimeouts,
  serverTimeouts,
  setSecurityHeaders,
} from './hardening.js';
export type { JsonEndpointOptions } from './json-endpoint.js';
export type { Authorize, BoardcastRequest, NodeRequest, NodeResponse } from './request.js';
export { type BoardcastHttp, type BoardcastHttpOptions, boardcastHttp } from './router.js';
export type { DisconnectReason, SseClientInfo } from './sse-client.js';
export {
  createSseEndpoint,
  type FetchConnectionInfo,
  type SseEndpoint,
  type SseEndpointEvents,
  type SseEndpointOptions,
} from './sse-endpoint.js';
export { createTokenAccess, type TokenAccess, type TokenAccessOptions } from './token-access.js';
