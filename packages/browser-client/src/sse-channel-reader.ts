import { BoardcastError } from '@boardcast/core';
import type { ChannelStreamRequest } from './channel-frames.js';
import type { ChannelSink } from './channel-link.js';
import { fetchOf, type HttpOptions, headersOf, networkError, responseError } from './http.js';
import { createSseDecoder } from './sse-decoder.js';

/**
 * Fetch mode of the channel SSE transport, loaded on first use (a page
 * whose native EventSource opens never downloads it): a GET, or the POST
 * that carries a large set, streamed through the event-stream decoder.
 */
export interface ReadOptions extends HttpOptions {
  readonly maxEventSize?: number | undefined;
}

/** Statuses that mean "do not come back": the spec's 204, and auth failures that retrying cannot fix. */
const FINAL = [204, 401, 403];
/** Cross-origin failures in a row, each answered by the server (CORS), that stop the client. */
const CORS_FAILURES = 3;

/** What one stream leaves for the next (kept by the transport). */
export interface ReadMemory {
  /** The last refusal that would come again unchanged (`<status> <code>`); cleared by a stream that opens. */
  refusal?: string | undefined;
  /** Cross-origin failures in a row that a `no-cors` request showed the server did answer. */
  cors?: number | undefined;
}

/**
 * A request that failed before any response. Cross-origin it may be CORS
 * (the server answered, but not for this page's origin), which the browser
 * hides: a `no-cors` request resolves whenever the server answered at all.
 * After {@link CORS_FAILURES} of those in a row: `forbidden_origin`, stop.
 */
async function failed(url: URL, memory: ReadMemory, sink: ChannelSink, cause: unknown): Promise<void> {
  if (typeof location === 'undefined' || url.origin === location.origin)
    return sink.drop(networkError(cause, 'event stream request failed'));
  const probe = new AbortController();
  const answered = await fetch(url.href, { mode: 'no-cors', cache: 'no-store', signal: probe.signal }).then(
    () => true,
    () => false,
  );
  probe.abort();
  memory.cors = answered ? (memory.cors ?? 0) + 1 : 0;
  if (!answered) return sink.drop(networkError(cause, 'event stream request failed'));
  const error = new BoardcastError(
    'forbidden_origin',
    `${url.origin} answered, but not to this page's origin ${location.origin} (CORS): add it to the server's allowedOrigins, or serve the page from the same origin`,
    { cause },
  );
  sink.drop(error, memory.cors >= CORS_FAILURES);
}

const isStream = (response: Response) =>
  response.status === 200 &&
  (response.headers.get('content-type')?.toLowerCase() ?? '').startsWith('text/event-stream');

/**
 * One stream. `route(type, data, id)` gets every block with its own `id:`
 * field (an event without one is a catch-up replay); `beat` is called on
 * every chunk. A refusal below 500 (but 408/429) that came with a resume id
 * drops the id (the server cannot use it); 204/401/403 stop.
 */
export async function readChannelStream(
  request: ChannelStreamRequest,
  lastEventId: string | undefined,
  options: ReadOptions,
  sink: ChannelSink,
  beat: () => void,
  route: (type: string, data: string, id: string | undefined) => void,
  controller: AbortController,
  memory: ReadMemory,
): Promise<void> {
  let response: Response;
  try {
    response = await fetchOf(options)(request.url, {
      method: request.body === undefined ? 'GET' : 'POST',
      headers: {
        accept: 'text/event-stream',
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        // A GET resumes with the header; a POST body names every channel's id itself.
        ...(lastEventId && request.body === undefined ? { 'last-event-id': lastEventId } : {}),
        ...headersOf(options),
      },
      body: request.body,
      credentials: options.credentials,
      cache: 'no-store',
      signal: controller.signal,
    });
  } catch (error) {
    if (controller.signal.aborted) return;
    return failed(new URL(request.url), memory, sink, error);
  }
  if (!isStream(response) || !response.body) {
    const { status } = response;
    const error =
      status === 204
        ? new BoardcastError('closed', 'the server ended the stream (HTTP 204)')
        : response.ok
          ? new BoardcastError('invalid_payload', 'response is not text/event-stream')
          : await responseError(response);
    // A refusal below 500 (but 408/429) comes again for the same request:
    // with a resume id, the id is what was refused (come back fresh);
    // without one, the same refusal twice in a row stops the client.
    const final = FINAL.includes(status);
    const repeats = status < 500 && status !== 408 && status !== 429;
    const key = `${status} ${error.code}`;
    const again = memory.refusal === key;
    memory.refusal = repeats ? key : undefined;
    if (repeats && !final && lastEventId) return sink.drop(error, false, true);
    return sink.drop(error, final || (repeats && again));
  }
  memory.refusal = memory.cors = undefined;
  beat();
  sink.open();
  let overflow = false;
  const maxEventSize = options.maxEventSize ?? 1 << 20;
  const decoder = createSseDecoder(
    {
      onMessage: (m) => route(m.event, m.data, m.id),
      onRetry: sink.retry,
      onOverflow: () => {
        overflow = true;
        controller.abort();
      },
    },
    { maxBufferSize: maxEventSize },
  );
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      beat();
      decoder.push(value);
    }
  } catch (error) {
    if (!overflow)
      return controller.signal.aborted ? undefined : sink.drop(networkError(error, 'event stream interrupted'));
  } finally {
    decoder.end();
  }
  if (!overflow) return sink.drop(new BoardcastError('network_error', 'event stream ended'));
  // Which channel it was is not known: every channel starts over fresh.
  sink.drop(
    new BoardcastError('payload_too_large', `an event exceeded maxEventSize (${maxEventSize} characters)`),
    false,
    true,
  );
}
