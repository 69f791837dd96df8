import { BoardcastError, type Contract, type ContractSpec } from '@boardcast/core';
import type { ClientOptions, LinkSink, Transport } from './client.js';
import { type HttpOptions, networkError, postCommand } from './http.js';
import type { FetchLink } from './sse-fetch.js';
import { endpoint, withQuery } from './urls.js';

export interface SseOptions<C extends ContractSpec> extends ClientOptions<C>, HttpOptions {
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
  /** Largest event (in characters) the fetch decoder buffers before dropping the connection (default 1 MiB). */
  readonly maxEventSize?: number | undefined;
}

export function sseTransport<C extends ContractSpec>(
  url: string,
  contract: Contract<C> | C,
  options: SseOptions<C>,
): Transport {
  const stream = endpoint(url, '/events', options.eventsUrl);
  const commands = endpoint(url, '/commands', options.commandsUrl).href.replace(/\/+$/, '');
  const closed = new AbortController();
  const mode = options.eventSource ?? 'auto';
  const native =
    mode === 'native' || (mode === 'auto' && typeof EventSource === 'function' && !options.headers && !options.fetch);

  // One path for both modes from here on: JSON-decode and route a block.
  const route = (sink: LinkSink, type: string, data: string, id: string | undefined) => {
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      return sink.error(new BoardcastError('invalid_payload', `"${type}" event data is not JSON`));
    }
    if (type === 'snapshot') sink.snapshot(value, id || null);
    else if (type === 'reset') sink.reset(String((value as { reason?: unknown } | null)?.reason ?? 'history'));
    else if (id !== undefined) sink.event(type, value, id);
  };

  // Everything that reads a response with fetch (the stream in fetch mode, the
  // status probe after a native refusal) lives in ./sse-fetch.js with
  // eventsource-parser and is loaded on first use: a page on the native
  // EventSource whose stream opens never downloads it.
  const link: FetchLink = { stream, options, route };
  const withFetch = (sink: LinkSink, run: (m: typeof import('./sse-fetch.js')) => unknown) => {
    import('./sse-fetch.js').then(run, (error) =>
      sink.drop(networkError(error, 'could not load the event-stream reader')),
    );
  };

  const dialFetch = (lastEventId: string | undefined, sink: LinkSink) => {
    const controller = new AbortController();
    withFetch(sink, (m) => controller.signal.aborted || m.readStream(link, lastEventId, sink, controller));
    return () => controller.abort();
  };

  const dialNative = (lastEventId: string | undefined, sink: LinkSink) => {
    const source = new EventSource(withQuery(stream, { events: options.events?.join(','), lastEventId }), {
      withCredentials: options.credentials === 'include',
    });
    let opened = false;
    source.onopen = () => {
      opened = true;
      sink.open();
    };
    for (const name of ['snapshot', 'reset', ...(options.events ?? Object.keys(contract.events))]) {
      source.addEventListener(name, (e) => route(sink, name, e.data, e.lastEventId || undefined));
    }
    // Reconnecting is ours (backoff, jitter, stop rules), never the browser's.
    source.onerror = () => {
      const refusedBeforeOpen = source.readyState === EventSource.CLOSED && !opened;
      source.close();
      if (refusedBeforeOpen) withFetch(sink, (m) => m.probe(link, lastEventId, sink));
      else sink.drop(new BoardcastError('network_error', 'event stream interrupted'));
    };
    return () => source.close();
  };

  return {
    name: 'sse',
    dial: native ? dialNative : dialFetch,
    command: (name, input, timeoutMs) =>
      postCommand(`${commands}/${encodeURIComponent(name)}`, input, timeoutMs, options, closed.signal),
    stop: () => closed.abort(),
  };
}
