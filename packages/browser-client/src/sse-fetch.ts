import { BoardcastError } from '@boardcast/core';
import type { LinkSink } from './client.js';
import { fetchOf, headersOf, networkError, responseError } from './http.js';
import { createSkipper } from './resync.js';
import { createSseDecoder } from './sse-decoder.js';
import type { SseOptions } from './sse-options.js';
import { failed, isStream, type ReadMemory, readBody, refused } from './sse-read.js';
import { withQuery } from './urls.js';

/**
 * The fetch side of the SSE transport, in its own module so that it and
 * eventsource-parser are imported on demand: a page whose native
 * EventSource opens never downloads them.
 */
export interface FetchLink extends ReadMemory {
  readonly stream: URL;
  // biome-ignore lint/suspicious/noExplicitAny: the contract type does not matter here
  readonly options: SseOptions<any>;
  route(sink: Link, type: string, data: string, id: string | undefined): void;
  /** The contract's reducers: which skipped events the state depends on. */
  readonly reducers?: object | undefined;
}

/** One connection attempt as the SSE transport sees it. */
export interface Link extends LinkSink {
  /** Proof of life; with a number, the server's keep-alive period in ms. */
  beat(ms?: unknown): void;
  /** The id this attempt resumes from (`undefined`: a fresh connection). */
  readonly lastEventId: string | undefined;
  /** A fresh connection still waiting for its snapshot. */
  fresh: boolean;
}

const request = ({ stream, options }: FetchLink, lastEventId: string | undefined, signal: AbortSignal) =>
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

/**
 * One fresh stream read up to its snapshot (the state after its id), then
 * closed: the side connection that mends the state after a skipped event.
 * Bounded by `SIDE_TIMEOUT_MS` and by `max` like the main stream.
 */
function sideSnapshot(link: FetchLink, max: number): Promise<{ state: unknown; id: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), SIDE_TIMEOUT_MS);
  return new Promise<{ state: unknown; id: string }>((resolve, reject) => {
    const decoder = createSseDecoder(
      {
        onMessage: ({ event, data, id }) => {
          if (event !== 'snapshot' || !id) return;
          try {
            resolve({ state: JSON.parse(data), id });
          } catch {
            reject(new BoardcastError('invalid_payload', '"snapshot" event data is not JSON'));
          }
          controller.abort();
        },
        onOverflow: () =>
          reject(new BoardcastError('payload_too_large', `the snapshot exceeded maxEventSize (${max})`)),
      },
      { maxBufferSize: max },
    );
    request(link, undefined, controller.signal)
      .then(async (response) => {
        if (!isStream(response) || !response.body) throw await responseError(response);
        const reader = response.body.getReader();
        for (let r = await reader.read(); !r.done; r = await reader.read()) decoder.push(r.value);
        throw new BoardcastError('network_error', 'the stream ended before its snapshot');
      })
      .catch((error) => reject(networkError(error, 'side stream failed')))
      .finally(() => {
        clearTimeout(timer);
        controller.abort();
      });
  });
}

/** How long the side connection may take to bring its snapshot (ms). */
const SIDE_TIMEOUT_MS = 10_000;

/** A native EventSource was refused before opening: it hides the HTTP status, so ask once with fetch. */
export function probe(link: FetchLink, sink: Link): void {
  const controller = new AbortController();
  request(link, sink.lastEventId, controller.signal).then(
    async (response) => {
      if (response.ok && isStream(response)) sink.drop(new BoardcastError('network_error', 'event stream failed'));
      else await refused(response, link, sink, !!sink.lastEventId, 'resume_refused');
      controller.abort();
    },
    (error) => failed(link.stream, link, sink, error),
  );
}

/** An id fetch refuses as a header value (past U+00FF, a control) or would change (surrounding whitespace). */
const UNSENDABLE = /[^\t\x20-\xff]|^[\t ]|[\t ]$/;

/** Fetch mode: one request, streamed through the decoder. */
export async function readStream(link: FetchLink, sink: Link, controller: AbortController): Promise<void> {
  // An id fetch cannot put in a header (a character past U+00FF, a control)
  // makes every request throw before it is sent: the same failure forever.
  // Come back fresh instead, as for an id the server refused.
  if (sink.lastEventId && UNSENDABLE.test(sink.lastEventId)) {
    sink.reset('resume_refused');
    return sink.drop(new BoardcastError('invalid_payload', 'id unfit for Last-Event-ID'), false, true);
  }
  let response: Response;
  try {
    response = await request(link, sink.lastEventId, controller.signal);
  } catch (error) {
    if (controller.signal.aborted) return;
    return failed(link.stream, link, sink, error);
  }
  if (!isStream(response) || !response.body) return refused(response, link, sink, !!sink.lastEventId, 'resume_refused');
  link.refusal = link.cors = undefined;
  sink.beat();
  sink.open();
  let overflow = false;
  const max = link.options.maxEventSize ?? 1 << 20;
  // Events over `max` are skipped alone (resync.ts): it sees what this stream delivers.
  const skipper = createSkipper(
    link.reducers,
    () => sideSnapshot(link, max),
    sink,
    (error) => sink.drop(error, false, true),
  );
  const on: Link = {
    ...sink,
    snapshot(state, id) {
      skipper.stop();
      sink.snapshot(state, id);
    },
    event(name, data, id) {
      sink.event(name, data, id);
      skipper.event(id as string, name, data);
    },
  };
  const decoder = createSseDecoder(
    {
      onMessage: (m) => link.route(on, m.event, m.data, m.event === 'snapshot' ? m.id : m.lastEventId || undefined),
      onRetry: sink.retry,
      onOverflow: ({ event, id, size }) => {
        // An event with an id is skipped alone and the stream goes on (see
        // resync.ts); a snapshot or a block without an id cannot be stepped
        // over: abort and decide below.
        if (on.fresh || id === undefined || event === 'snapshot') {
          overflow = true;
          controller.abort();
        } else skipper.skip(id, event, size);
      },
    },
    { maxBufferSize: max },
  );
  const cut = await readBody(response.body, decoder, () => sink.beat());
  // A state still being mended cannot be resumed: the next stream starts fresh.
  if (!overflow)
    return sink.drop(cut ?? new BoardcastError('network_error', 'event stream ended'), false, skipper.stop());
  skipper.stop();
  // Too large and not skippable in place (no id): come back fresh; a fresh
  // stream's snapshot that is itself too large can never be read, so stop.
  const tooLarge = new BoardcastError(
    'payload_too_large',
    `${sink.fresh ? 'the snapshot' : 'an event'} exceeded maxEventSize (${max} characters)`,
  );
  if (on.fresh) return sink.drop(tooLarge, true);
  sink.reset('too_large');
  sink.drop(tooLarge, false, true);
}
