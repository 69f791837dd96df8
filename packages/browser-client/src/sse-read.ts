import { BoardcastError } from '@boardcast/core';
import type { LinkSink } from './client.js';
import { networkError, responseError } from './http.js';
import type { SseDecoder } from './sse-decoder.js';

/**
 * What both fetch-mode readers (sse-fetch.ts for one stream,
 * sse-channel-reader.ts for a channel set) do the same way with a response:
 * tell a stream from a refusal and judge the refusal, tell CORS from the
 * network, and read the body through the decoder. Loaded with them, on
 * first use.
 */

/** What one stream leaves for the next (kept by the transport). */
export interface ReadMemory {
  /**
   * The last refusal that will come again unchanged (`<status> <code>`): the
   * same one on the next attempt stops the client instead of looping.
   * Cleared by a stream that opens.
   */
  refusal?: string | undefined;
  /** Cross-origin failures in a row that a `no-cors` probe showed the server did answer (CORS). */
  cors?: number | undefined;
}

/** Statuses that mean "do not come back": the spec's 204, and auth failures that retrying cannot fix. */
const FINAL = [204, 401, 403];
/** 4xx statuses that say "not now" rather than "never like this" (as for WebSocket, ws-link.ts). */
const TRANSIENT = [408, 425, 429];

export const isStream = (response: Response): boolean =>
  response.status === 200 &&
  (response.headers.get('content-type')?.toLowerCase() ?? '').startsWith('text/event-stream');

/**
 * A refused response (not an event stream). 204/401/403 stop at once. Any
 * other answer below 500 but 408/425/429 (a 4xx, a 200 that is not an event
 * stream) would be given again to the same request: with a resume id, the
 * id is what the server refused (`invalid_payload` for an id it cannot
 * read), so the client forgets it and comes back fresh (after
 * `sink.reset(reset)` when `reset` is given: the single stream's state
 * starts over); without one, the same refusal twice in a row stops the
 * client. 5xx, 408, 425 and 429 are retried with backoff.
 */
export async function refused(
  response: Response,
  memory: ReadMemory,
  sink: Pick<LinkSink, 'drop' | 'reset'>,
  resumed: boolean,
  reset?: string,
): Promise<void> {
  const { status } = response;
  const error =
    status === 204
      ? new BoardcastError('closed', 'the server ended the stream (HTTP 204)')
      : response.ok
        ? new BoardcastError('invalid_payload', 'response is not text/event-stream')
        : await responseError(response);
  const key = `${status} ${error.code}`;
  const final = FINAL.includes(status);
  const repeats = status < 500 && !TRANSIENT.includes(status);
  const again = memory.refusal === key;
  memory.refusal = repeats ? key : undefined;
  if (repeats && !final && resumed) {
    if (reset) sink.reset(reset);
    return sink.drop(error, false, true);
  }
  sink.drop(error, final || (repeats && again));
}

/**
 * Reads an event stream's body through `decoder`, calling `beat` on every
 * chunk (any bytes count as life, comments such as older servers' `: ping`
 * included), and ends the decoder. Resolves with the error that cut the
 * stream, or `undefined` when it ended.
 */
export async function readBody(
  body: ReadableStream<Uint8Array>,
  decoder: SseDecoder,
  beat: () => void,
): Promise<BoardcastError | undefined> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return undefined;
      beat();
      decoder.push(value);
    }
  } catch (error) {
    return networkError(error, 'event stream interrupted');
  } finally {
    decoder.end();
  }
}

/** How many CORS-hidden refusals in a row stop the client (one could be a server coming up between two requests). */
export const CORS_FAILURES = 3;

/**
 * A request to `url` failed before any response. Same-origin (or outside a
 * page) that is the network. Cross-origin it may also be CORS — the server
 * answered, but not for this page's origin — which the browser hides. A
 * `no-cors` request tells them apart: it resolves, opaquely, whenever the
 * server answered at all. (It sends no `Origin` on a GET, so a stream it
 * opens is aborted at once.) After {@link CORS_FAILURES} such answers in a
 * row the client stops with `forbidden_origin` instead of retrying for ever.
 */
export async function failed(
  url: URL,
  memory: ReadMemory,
  sink: Pick<LinkSink, 'drop'>,
  cause: unknown,
): Promise<void> {
  if (typeof location === 'undefined' || url.origin === location.origin)
    return sink.drop(networkError(cause, 'event stream request failed'));
  const controller = new AbortController();
  const answered = await fetch(url.href, { mode: 'no-cors', cache: 'no-store', signal: controller.signal }).then(
    () => true,
    () => false,
  );
  controller.abort();
  memory.cors = answered ? (memory.cors ?? 0) + 1 : 0;
  if (!answered) return sink.drop(networkError(cause, 'event stream request failed'));
  const error = new BoardcastError(
    'forbidden_origin',
    `${url.origin} answered, but not to this page's origin ${location.origin} (CORS): add it to the server's allowedOrigins, or serve the page from the same origin (a dev-server proxy)`,
    { cause },
  );
  sink.drop(error, memory.cors >= CORS_FAILURES);
}
