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
    return sink.drop(networkError(error, 'event stream request failed'));
  }
  if (!isStream(response) || !response.body) {
    const { status } = response;
    const error =
      status === 204
        ? new BoardcastError('closed', 'the server ended the stream (HTTP 204)')
        : response.ok
          ? new BoardcastError('invalid_payload', 'response is not text/event-stream')
          : await responseError(response);
    const final = FINAL.includes(status);
    const repeats = status < 500 && status !== 408 && status !== 429;
    return sink.drop(error, final, repeats && !final && !!lastEventId);
  }
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
