export type { StandardSchemaV1 } from '@standard-schema/spec';
export type { HubSink } from './attachment.js';
export { type Bus, type BusListener, type BusStatus, MemoryBus, type MemoryBusOptions } from './bus.js';
export {
  type CommandInput,
  type CommandName,
  type CommandPayload,
  type CommandResult,
  type CommandSpec,
  type Contract,
  type ContractSpec,
  defineContract,
  type Entry,
  type EventData,
  type EventMap,
  type EventName,
  type Input,
  isStandardSchema,
  type Output,
  type StateOf,
  type TypeOnly,
  typed,
} from './contract.js';
export { Emitter, type EventsMap } from './emitter.js';
export { EncodedEvent } from './encoded-event.js';
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
export type { Authorize, BoardcastRequest } from './request.js';
export { SeriesBuffer, type SeriesPoint, type SeriesStats } from './series-buffer.js';
export { EncodedSnapshot } from './snapshot.js';
export {
  encodeSseComment,
  encodeSseFrame,
  encodeSseReset,
  encodeSseRetry,
  encodeSseSnapshot,
  type SseFrameFields,
} from './sse-codec.js';
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
  parseJsonStrict,
  type ServerEnvelope,
  tryDecodeClientFrame,
  utf8ByteLength,
  WS_PROTOCOL,
} from './ws-codec.js';
