/**
 * What every single-stream entry (`@boardcast/browser-client`, `/sse`,
 * `/ws`) exports beside its own connect function and options: listed once,
 * so a type added here reaches every entry.
 */
export type { KeepAliveOptions, ReconnectOptions } from './backoff.js';
export type { BoardcastClient, ClientOptions, CommandOptions, Status, StatusChange } from './client.js';
export {
  createStateMirror,
  type Reducer,
  type Reducers,
  type StateMirror,
  type StateMirrorOptions,
} from './state-mirror.js';
