import { BoardcastError } from '@boardcast/core';
import { parseServerStatus } from '@boardcast/core/wire';
import { type KeepAliveOptions, watchdog } from './backoff.js';
import { channelStreamRequest, routeSseChannelFrame } from './channel-frames.js';
import type { ChannelDial, ChannelSink, ChannelTransport } from './channel-link.js';
import { postCommandLazily } from './command-loader.js';
import type { HttpOptions } from './http.js';
import type { ReadMemory } from './sse-read.js';
import { endpoint } from './urls.js';

/** The SSE options of a channel client (those of `connectSse` that apply to a channel set). */
export interface SseChannelTransportOptions extends HttpOptions, KeepAliveOptions {
  readonly eventsUrl?: string | undefined;
  readonly commandsUrl?: string | undefined;
  readonly eventSource?: 'auto' | 'native' | 'fetch' | undefined;
  readonly maxEventSize?: number | undefined;
  readonly events?: readonly string[] | undefined;
}

/**
 * Server-Sent Events for a connection that names channels. A stream's set
 * is fixed: `GET <events>?channels=…&fresh=…` (with `lastEventId=` in the
 * query for a native EventSource, the `Last-Event-ID` header in fetch mode),
 * or a `POST` with the set in a JSON body when it is large, names a
 * channel's own `since`, or pages the directory (fetch mode, whatever
 * `eventSource` says: an EventSource cannot send a body). The client
 * changes the set by opening a new stream (see `Session.redial`).
 * Commands post to `<commands>/<name>?channel=<id>`.
 */
export function sseChannelTransport(
  url: string,
  eventNames: readonly string[],
  options: SseChannelTransportOptions,
): ChannelTransport {
  const stream = endpoint(url, '/events', options.eventsUrl);
  const commands = endpoint(url, '/commands', options.commandsUrl).href.replace(/\/+$/, '');
  const closed = new AbortController();
  const mode = options.eventSource ?? 'auto';
  const native =
    mode === 'native' || (mode === 'auto' && typeof EventSource === 'function' && !options.headers && !options.fetch);
  const events = options.events?.join(',');
  const keep = { ...options };
  const memory: ReadMemory = {};

  // The sink of a channel connection is a ChannelSink (the session builds it); `side` is the single stream's.
  const dial = (lastEventId: string | undefined, linkSink: unknown, _side?: boolean, set?: ChannelDial) => {
    const sink = linkSink as ChannelSink;
    const dial = set ?? { resume: [], fresh: [], since: [] };
    const dog = watchdog(keep, (ms) =>
      sink.drop(new BoardcastError('timeout', `silent for ${ms} ms: link taken for dead`)),
    );
    // JSON-decode a block and route it; `id` is the block's own id field.
    const route = (type: string, data: string, id: string | undefined) => {
      let value: unknown;
      try {
        value = JSON.parse(data);
      } catch {
        return sink.error(new BoardcastError('invalid_payload', `"${type}" event data is not JSON`));
      }
      if (type === 'keepalive') dog.beat((value as { intervalMs?: unknown } | null)?.intervalMs);
      else if (type === '~status') {
        const status = parseServerStatus(value);
        if (status) sink.server(status);
      } else routeSseChannelFrame(sink, type, value, id);
    };
    const request = channelStreamRequest(stream, events, lastEventId, dial, native);
    const controller = new AbortController();
    const read = () =>
      import('./sse-channel-reader.js').then(
        (m) => {
          if (!controller.signal.aborted)
            void m.readChannelStream(request, lastEventId, options, sink, dog.beat, route, controller, memory);
        },
        (cause) => sink.drop(new BoardcastError('network_error', 'could not load the event-stream reader', { cause })),
      );
    if (native && request.body === undefined) {
      const source = new EventSource(request.url, { withCredentials: options.credentials === 'include' });
      let opened = false;
      // The browser keeps the last id across blocks; a block without its own
      // `id:` (a catch-up replay) shows the previous one again. Ids on a
      // connection only grow, so "same as before" means "none of its own".
      let previous = '';
      source.onopen = () => {
        opened = true;
        memory.refusal = memory.cors = undefined;
        dog.beat();
        sink.open();
      };
      for (const name of new Set(['keepalive', 'snapshot', 'reset', 'forbidden', '~status', 'entry', ...eventNames])) {
        source.addEventListener(name, (e) => {
          dog.beat();
          const own = e.lastEventId !== previous ? e.lastEventId : undefined;
          previous = e.lastEventId;
          route(name, e.data, own);
        });
      }
      // Reconnecting is ours (backoff, jitter, stop rules), never the browser's.
      source.onerror = () => {
        const refusedBeforeOpen = source.readyState === EventSource.CLOSED && !opened;
        source.close();
        // The browser hides a refusal's status: ask again with fetch, which
        // reads it (and stops on 401/403), or streams on if it was passing.
        if (refusedBeforeOpen) read();
        else sink.drop(new BoardcastError('network_error', 'event stream interrupted'));
      };
      return () => {
        dog.stop();
        source.close();
        controller.abort();
      };
    }
    read();
    return () => {
      dog.stop();
      controller.abort();
    };
  };

  return {
    name: 'sse',
    dial,
    command: (name, input, timeoutMs, channel) =>
      postCommandLazily(
        `${commands}/${encodeURIComponent(name)}${channel === undefined ? '' : `?channel=${encodeURIComponent(channel)}`}`,
        input,
        timeoutMs,
        options,
        closed.signal,
      ),
    stop: () => closed.abort(),
  };
}
