import { BoardcastError, type Contract, type ContractSpec } from '@boardcast/core';
import { type ClientOptions, eventNames, type LinkSink, type Transport } from './client.js';
import { fetchOf, type HttpOptions, headersOf, networkError, postCommand, responseError } from './http.js';
import { createSseDecoder } from './sse-decoder.js';
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

/** Statuses that mean "do not come back": the spec's 204, and auth failures that retrying cannot fix. */
const FINAL = [204, 401, 403];

export function sseTransport<C extends ContractSpec>(
  url: string,
  contract: Contract<C> | C,
  options: SseOptions<C>,
): Transport {
  const names = eventNames(contract, options);
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
      sink.error(new BoardcastError('invalid_payload', `"${type}" event data is not JSON`));
      return;
    }
    if (type === 'snapshot') sink.snapshot(value, id || null);
    else if (type === 'reset') sink.reset(String((value as { reason?: unknown } | null)?.reason ?? 'history'));
    else if (id !== undefined) sink.event(type, value, id);
  };

  // A refused response: terminal for 204/401/403, otherwise another attempt.
  const refused = async (sink: LinkSink, response: Response) => {
    const error =
      response.status === 204
        ? new BoardcastError('closed', 'the server ended the stream (HTTP 204)')
        : response.ok
          ? new BoardcastError('invalid_payload', 'response is not text/event-stream')
          : await responseError(response);
    sink.drop(error, FINAL.includes(response.status));
  };

  const request = (lastEventId: string | undefined, signal: AbortSignal) =>
    fetchOf(options)(withQuery(stream, { events: options.events?.join(',') }), {
      headers: {
        accept: 'text/event-stream',
        ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        ...headersOf(options),
      },
      credentials: options.credentials,
      cache: 'no-store',
      signal,
    });

  const dialFetch = (lastEventId: string | undefined, sink: LinkSink) => {
    const controller = new AbortController();
    (async () => {
      let response: Response;
      try {
        response = await request(lastEventId, controller.signal);
      } catch (error) {
        return sink.drop(networkError(error, 'event stream request failed'));
      }
      const type = response.headers.get('content-type')?.toLowerCase() ?? '';
      if (response.status !== 200 || !type.startsWith('text/event-stream') || !response.body) {
        return refused(sink, response);
      }
      sink.open();
      let overflow = false;
      const decoder = createSseDecoder(
        {
          onMessage: (m) => route(sink, m.event, m.data, m.event === 'snapshot' ? m.id : m.lastEventId || undefined),
          onRetry: sink.retry,
          onOverflow: () => {
            overflow = true;
            controller.abort();
          },
        },
        { maxBufferSize: options.maxEventSize ?? 1 << 20 },
      );
      const reader = response.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          decoder.push(value);
        }
      } catch (error) {
        if (!overflow) return sink.drop(networkError(error, 'event stream interrupted'));
      } finally {
        decoder.end();
      }
      sink.drop(
        overflow
          ? new BoardcastError('payload_too_large', 'an event exceeded maxEventSize')
          : new BoardcastError('network_error', 'event stream ended'),
      );
    })();
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
    for (const name of ['snapshot', 'reset', ...names]) {
      source.addEventListener(name, (e) => route(sink, name, e.data, e.lastEventId || undefined));
    }
    // Reconnecting is ours (backoff, jitter, stop rules), never the browser's.
    source.onerror = () => {
      const refusedBeforeOpen = source.readyState === EventSource.CLOSED && !opened;
      source.close();
      if (!refusedBeforeOpen) return sink.drop(new BoardcastError('network_error', 'event stream interrupted'));
      // EventSource hides the HTTP status; ask once so 204/401/403 stop retrying here too.
      const probe = new AbortController();
      request(lastEventId, probe.signal).then(
        async (response) => {
          if (response.ok) sink.drop(new BoardcastError('network_error', 'event stream failed'));
          else await refused(sink, response);
          probe.abort();
        },
        (error) => sink.drop(networkError(error, 'event stream request failed')),
      );
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
