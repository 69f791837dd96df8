/**
 * `@boardcast/core`: what an application needs — the contract, the hub,
 * the bus interface, errors and the typed emitter. Frame codecs live in
 * `@boardcast/core/wire` (internal to the sibling packages), the endpoint
 * policy and upgrade registry in `@boardcast/core/server`.
 */
export type { StandardSchemaV1 } from '@standard-schema/spec';
export {
  type AccessPolicy,
  type AccessRule,
  type AccessTable,
  accessTable,
  type MaybePromise,
  matchesChannel,
  principalIdOf,
} from './access.js';
export {
  type Bus,
  type BusListener,
  type BusStatus,
  MemoryBus,
  type MemoryBusOptions,
  type StateCheckpoint,
} from './bus.js';
export { CHANNEL_ID, DEFAULT_CHANNEL, DIRECTORY, isChannelId, MAX_CHANNEL_ID_LENGTH } from './channel.js';
export type { ChannelHistoryStats } from './channel-log.js';
export type { ChannelRequest, SubscribeResult } from './connection.js';
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
  type Output,
  type Reducer,
  type ReducerMap,
  type Reducers,
  type StateOf,
  type TypeOnly,
  typed,
} from './contract.js';
export type {
  DirectoryChange,
  DirectoryEntry,
  DirectoryPage,
  DirectoryPatch,
  DirectoryQuery,
} from './directory.js';
export { Emitter, type EventsMap } from './emitter.js';
export {
  BoardcastError,
  ERROR_CODES,
  type ErrorBody,
  type ErrorCode,
  isBoardcastError,
  isErrorCode,
} from './errors.js';
export {
  type AttachOptions,
  Channel,
  type ChannelMetrics,
  type CommandContext,
  type CommandHandler,
  type CommandLog,
  createHub,
  type DispatchContext,
  type DispatchResult,
  type HandleOptions,
  Hub,
  type HubConnection,
  type HubEvents,
  type HubOptions,
} from './hub.js';
export type { Authorize, BoardcastRequest } from './request.js';
export { validateEntry } from './validate.js';
