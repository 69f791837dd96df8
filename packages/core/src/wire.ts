/**
 * `@boardcast/core/wire`: the frame codecs and transport plumbing shared by
 * the sibling packages (sse-server, ws-server, browser-client, bus-redis,
 * board-adapter-gpio, mqtt). Internal: it changes whenever the wire or the
 * hub's internals change, with no deprecation period. The siblings depend
 * on `@boardcast/core` at exactly their own version (`workspace:*`), so an
 * internal change never meets a mismatched sibling. Applications import
 * `@boardcast/core` (and `@boardcast/core/server` for their own endpoints).
 */
export { compareStreamIds } from './bus.js';
export {
  ChannelEventFrame,
  ChannelSnapshotBody,
  channelForbiddenFrame,
  channelResetFrame,
  type WireFrame,
} from './channel-codec.js';
export { ChannelLog, type ChannelLogOptions } from './channel-log.js';
export {
  type ChannelSelection,
  directoryQueryOf,
  isChannelName,
  MAX_CHANNELS_PER_REQUEST,
  parseChannelBody,
  parseChannelQuery,
  parseDirectoryQuery,
} from './channel-query.js';
export type { HubSink } from './connection.js';
export { EncodedEvent, STATE_EVENT, STATUS_EVENT, StateChange, StatusFrame } from './encoded-event.js';
export { credentialExpiry, onExpiry } from './expiry.js';
export { History, type SinceResult } from './history.js';
export { ACCESS_EVENT, DIRECTORY_EVENT } from './hub.js';
export { EncodedSnapshot } from './snapshot.js';
export {
  encodeSseComment,
  encodeSseFrame,
  encodeSseKeepAlive,
  encodeSseReset,
  encodeSseRetry,
  encodeSseSnapshot,
  encodeSseStatus,
  SSE_KEEPALIVE_EVENT,
  SSE_STATUS_EVENT,
  type SseFrameFields,
} from './sse-codec.js';
export { parseServerStatus, type ServerStatus } from './status.js';
export {
  type ClientDecodeResult,
  type ClientEnvelope,
  type CommandId,
  type DecodeOptions,
  decodeClientFrame,
  decodeServerFrame,
  encodeWsCommand,
  encodeWsError,
  encodeWsEvent,
  encodeWsPing,
  encodeWsPong,
  encodeWsReset,
  encodeWsResultError,
  encodeWsResultOk,
  encodeWsSnapshot,
  encodeWsStatus,
  encodeWsSubscribe,
  encodeWsUnsubscribe,
  MAX_CHANNELS_PER_FRAME,
  parseJsonStrict,
  type ServerEnvelope,
  tryDecodeClientFrame,
  utf8ByteLength,
  WS_PROTOCOL,
  type WsChannelRequest,
  type WsDirectoryQuery,
} from './ws-codec.js';
