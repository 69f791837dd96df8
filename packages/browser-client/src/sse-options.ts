import type { ContractSpec } from '@boardcast/core';
import type { KeepAliveOptions } from './backoff.js';
import type { ClientOptions } from './client.js';
import type { HttpOptions } from './http.js';
import type { ShareOptions } from './share.js';

/**
 * Options of the SSE transport. In a module of their own because both the
 * transport and its on-demand fetch reader (sse-fetch.ts) need them, and
 * the reader must not import the transport that loads it.
 */
export interface SseOptions<C extends ContractSpec>
  extends ClientOptions<C>,
    HttpOptions,
    KeepAliveOptions,
    ShareOptions {
  /** Event stream URL (default `<url>/events`). */
  readonly eventsUrl?: string | undefined;
  /** Command base (default `<url>/commands`); a command posts to `<commandsUrl>/<name>`. */
  readonly commandsUrl?: string | undefined;
  /**
   * `native` uses the browser's EventSource, `fetch` streams with fetch +
   * eventsource-parser. `auto` (default) takes `native` when it exists and
   * neither `headers` nor `fetch` is given.
   */
  readonly eventSource?: 'auto' | 'native' | 'fetch' | undefined;
  /**
   * Fetch mode: the largest event, in characters of its data, the decoder
   * buffers (default 1 MiB). A larger event is skipped alone: an `error`
   * (`payload_too_large`, naming its id and size), and the stream goes on
   * with every event after it, none lost or repeated. When the contract has
   * a reducer for it, the client also emits `reset` (`too_large`) and mends
   * the state from one fresh snapshot taken on a side connection, then
   * `snapshot`. When the first snapshot itself is larger, it stops with
   * `payload_too_large`. The native `EventSource` has no limit of its own.
   */
  readonly maxEventSize?: number | undefined;
}
