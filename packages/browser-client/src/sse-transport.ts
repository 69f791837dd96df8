import { BoardcastError, type ClientContract, type ContractSpec } from '@boardcast/core';
import { parseServerStatus } from '@boardcast/core/wire';
import { watchdog } from './backoff.js';
import type { LinkSink, Transport } from './client.js';
import { postCommandLazily } from './command-loader.js';
import type { FetchLink, Link } from './sse-fetch.js';
import type { SseOptions } from './sse-options.js';
import { endpoint, withQuery } from './urls.js';

export function sseTransport<C extends ContractSpec>(
  url: string,
  contract: C | ClientContract<C>,
  options: SseOptions<C>,
): Transport {
  const stream = endpoint(url, '/events', options.eventsUrl);
  const commands = endpoint(url, '/commands', options.commandsUrl).href.replace(/\/+$/, '');
  const closed = new AbortController();
  const mode = options.eventSource ?? 'auto';
  const native =
    mode === 'native' || (mode === 'auto' && typeof EventSource === 'function' && !options.headers && !options.fetch);

  // One path for both modes from here on: JSON-decode and route a block.
  // `keepalive` is reserved: it tells the period and proves the link alive.
  const route = (sink: Link, type: string, data: string, id: string | undefined) => {
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      return sink.error(new BoardcastError('invalid_payload', `"${type}" event data is not JSON`));
    }
    if (type === 'keepalive') sink.beat((value as { intervalMs?: unknown } | null)?.intervalMs);
    else if (type === 'snapshot') {
      sink.fresh = false;
      sink.snapshot(value, id || null);
    } else if (type === 'reset') sink.reset(String((value as { reason?: unknown } | null)?.reason ?? 'history'));
    else if (type === '~status') {
      const status = parseServerStatus(value);
      if (status) sink.server(status);
    } else if (id !== undefined) sink.event(type, value, id);
  };

  // Everything that reads a response with fetch (the stream in fetch mode, the
  // status probe after a native refusal) lives in ./sse-fetch.js with
  // eventsource-parser and is loaded on first use: a page on the native
  // EventSource whose stream opens never downloads it.
  const link: FetchLink = { stream, options, route, reducers: contract.reducers };
  const withFetch = (sink: LinkSink, run: (m: typeof import('./sse-fetch.js')) => unknown) => {
    import('./sse-fetch.js').then(run, (error) =>
      sink.drop(new BoardcastError('network_error', 'could not load the event-stream reader', { cause: error })),
    );
  };

  // Per attempt: the sink plus its liveness timer, started before the
  // request so that one unanswered through a silent link is bounded too.
  const keep = { ...options };
  const open = (lastEventId: string | undefined, sink: LinkSink, abort: () => void) => {
    const dog = watchdog(keep, (ms) =>
      sink.drop(new BoardcastError('timeout', `silent for ${ms} ms: link taken for dead`)),
    );
    const attempt: Link = { ...sink, beat: dog.beat, lastEventId, fresh: !lastEventId };
    return [
      attempt,
      () => {
        dog.stop();
        abort();
      },
    ] as const;
  };

  const dialFetch = (lastEventId: string | undefined, sink: LinkSink) => {
    const controller = new AbortController();
    const [attempt, stop] = open(lastEventId, sink, () => controller.abort());
    withFetch(sink, (m) => controller.signal.aborted || m.readStream(link, attempt, controller));
    return stop;
  };

  const dialNative = (lastEventId: string | undefined, sink: LinkSink) => {
    const source = new EventSource(withQuery(stream, { events: options.events?.join(','), lastEventId }), {
      withCredentials: options.credentials === 'include',
    });
    const [attempt, stop] = open(lastEventId, sink, () => source.close());
    let opened = false;
    source.onopen = () => {
      opened = true;
      // An open stream ends any run of identical refusals.
      link.refusal = link.cors = undefined;
      attempt.beat();
      sink.open();
    };
    for (const name of [
      'keepalive',
      'snapshot',
      'reset',
      '~status',
      ...(options.events ?? Object.keys(contract.events)),
    ]) {
      source.addEventListener(name, (e) => {
        attempt.beat();
        route(attempt, name, e.data, e.lastEventId || undefined);
      });
    }
    // Reconnecting is ours (backoff, jitter, stop rules), never the browser's.
    source.onerror = () => {
      const refusedBeforeOpen = source.readyState === EventSource.CLOSED && !opened;
      source.close();
      if (refusedBeforeOpen) withFetch(sink, (m) => m.probe(link, attempt));
      else sink.drop(new BoardcastError('network_error', 'event stream interrupted'));
    };
    return stop;
  };

  return {
    name: 'sse',
    dial: native ? dialNative : dialFetch,
    command: (name, input, timeoutMs) =>
      postCommandLazily(`${commands}/${encodeURIComponent(name)}`, input, timeoutMs, options, closed.signal),
    stop: () => closed.abort(),
  };
}
