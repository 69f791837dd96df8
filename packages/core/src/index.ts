export type { StandardSchemaV1 } from '@standard-schema/spec';
export type { HubSink } from './attachment.js';
export {
  type Bus,
  type BusListener,
  type BusStatus,
  MemoryBus,
  type MemoryBusOptions,
  type StateCheckpoint,
} from './bus.js';
export {
  type ClientContract,
  type CommandInput,
  type CommandName,
  type CommandPayload,
  type CommandResult,
  type CommandSpec,
  type CommandsSpec,
  type Contract,
  type ContractSpec,
  defineContract,
  type Entry,
  type EventData,
  type EventMap,
  type EventName,
  type EventsSpec,
  type Input,
  isStandardSchema,
  type Output,
  type Reducer,
  type ReducerMap,
  type Reducers,
  type StateOf,
  type TypeOnly,
  typed,
} from './contract.js';
export { Emitter, type EventsMap } from './emitter.js';
export { EncodedEvent, STATE_EVENT, STATUS_EVENT, StateChange, StatusFrame } from './encoded-event.js';
export {
  BoardcastError,
  ERROR_CODES,
  type ErrorBody,
  type ErrorCode,
  isBoardcastError,
  isErrorCode,
} from './errors.js';
export { History, type SinceResult } from './history.js';
export {
  type AttachOptions,
  type CommandContext,
  type CommandHandler,
  type CommandLog,
  createHub,
  type DispatchResult,
  type HandleOptions,
  Hub,
  type HubEvents,
  type HubOptions,
} from './hub.js';
export { LOG_SAFE_MAX_LENGTH, logSafe } from './log-safe.js';
export {
  AddressCounter,
  type AllowedHosts,
  type AllowedOrigins,
  checkHost,
  checkRequest,
  createHostCheck,
  type EndpointPolicy,
  type EndpointPolicyOptions,
  type HostCheck,
  type HostEnvironment,
  type InterfaceAddress,
  isIpLiteral,
  isOriginAllowed,
  normalizeHost,
  normalizeOrigin,
  POLICY_DEFAULTS,
  resolvePolicy,
  type SlowClientPolicy,
} from './policy.js';
export type { Authorize, BoardcastRequest } from './request.js';
export { SeriesBuffer, type SeriesPoint, type SeriesStats } from './series-buffer.js';
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
  refuseUpgrade,
  registerUpgrade,
  UNHANDLED_UPGRADE_TIMEOUT_MS,
  UpgradeRegistry,
  type UpgradeRequestLike,
  type UpgradeRoute,
  type UpgradeServer,
  type UpgradeSocketLike,
  upgradeRegistry,
} from './upgrade.js';
export { validateEntry, validateEntrySync } from './validate.js';
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
  parseJsonStrict,
  type ServerEnvelope,
  tryDecodeClientFrame,
  utf8ByteLength,
  WS_PROTOCOL,
} from './ws-codec.js';
