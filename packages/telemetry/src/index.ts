/**
 * `@boardcast/telemetry`: readings kept across restarts. The stores live in
 * `@boardcast/telemetry/sqlite` (embedded, better-sqlite3) and
 * `@boardcast/telemetry/postgres` (many instances, pg); this entry has what
 * works with either: the types, `record` (hub → store) and the chart routes.
 */
export { type ChannelAccess, createTelemetryRoutes, TelemetryRoutes, type TelemetryRoutesOptions } from './http.js';
export {
  type RecordableEvent,
  type RecordableHub,
  Recorder,
  type RecorderEvents,
  type RecorderStats,
  type RecordOptions,
  record,
} from './record.js';
export { DEFAULT_RETENTION } from './tiers.js';
export type * from './types.js';
