import { BoardcastError } from '@boardcast/core';
import type { LinkSink } from './client.js';
import { fetchOf, headersOf, networkError, responseError } from './http.js';
import { createSseDecoder } from './sse-decoder.js';
import type { SseOptions } from './sse-transport.js';
import { withQuery } from './urls.js';

/**
 * The fetch side of the SSE transport, in its own module so that it and
 * eventsource-parser are imported on demand: a page whose native
 * EventSource opens never downloads them.
 */
export interface FetchLink {
  readonly stream: URL;
  // biome-ignore lint/suspicious/noExplicitAny: the contract type does not matter here
  readonly options: SseOptions<any>;
  route(sink: LinkSink, type: string, data: string, id: string | undefined): void;
}

/** Statuses that mean "do not come back": the spec's 204, and auth failures that retrying cannot fix. */
const FINAL = [204, 401, 403];

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

/** A native EventSource was refused before opening: it hides the HTTP status, so ask once, and 204/401/403 stop retrying here too. */
export function probe(link: FetchLink, lastEventId: string | undefined, sink: LinkSink): void {
  const controller = new AbortController();
  request(link, lastEventId, controller.signal).then(
    async (response) => {
      if (response.ok) sink.drop(new BoardcastError('network_error', 'event stream failed'));
      else await refused(sink, response);
      controller.abort();
    },
    (error) => sink.drop(networkError(error, 'event stream request failed')),
  );
}

/** Fetch mode: one request, streamed through the decoder. */
export async function readStream(
  link: FetchLink,
  lastEventId: string | undefined,
  sink: LinkSink,
  controller: AbortController,
): Promise<void> {
  let response: Response;
  try {
    response = await request(link, lastEventId, controller.signal);
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
      onMessage: (m) => link.route(sink, m.event, m.data, m.event === 'snapshot' ? m.id : m.lastEventId || undefined),
      onRetry: sink.retry,
      onOverflow: () => {
        overflow = true;
        controller.abort();
      },
    },
    { maxBufferSize: link.options.maxEventSize ?? 1 << 20 },
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
}
