import { BoardcastError } from '@boardcast/core';
import type { ChannelStreamRequest } from './channel-frames.js';
import type { ChannelSink } from './channel-link.js';
import { fetchOf, type HttpOptions, headersOf } from './http.js';
import { createSseDecoder } from './sse-decoder.js';
import { failed, isStream, type ReadMemory, readBody, refused } from './sse-read.js';

/**
 * Fetch mode of the channel SSE transport, loaded on first use (a page
 * whose native EventSource opens never downloads it): a GET, or the POST
 * that carries a large set, streamed through the event-stream decoder.
 */
export interface ReadOptions extends HttpOptions {
  readonly maxEventSize?: number | undefined;
}

/**
 * One stream. `route(type, data, id)` gets every block with its own `id:`
 * field (an event without one is a catch-up replay); `beat` is called on
 * every chunk. A refusal is judged as for one stream (sse-read.ts):
 * one that came with a resume id drops the id, 204/401/403 stop.
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
      // A GET resumes with the header; a POST body names every channel's id itself.
      headers: {
        accept: 'text/event-stream',
        ...(request.body === undefined
          ? lastEventId && { 'last-event-id': lastEventId }
          : { 'content-type': 'application/json' }),
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
  if (!isStream(response) || !response.body) return refused(response, memory, sink, !!lastEventId);
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
  const cut = await readBody(response.body, decoder, beat);
  if (!overflow) {
    if (!cut) return sink.drop(new BoardcastError('network_error', 'event stream ended'));
    return controller.signal.aborted ? undefined : sink.drop(cut);
  }
  // Which channel it was is not known: every channel starts over fresh.
  sink.drop(
    new BoardcastError('payload_too_large', `an event exceeded maxEventSize (${maxEventSize} characters)`),
    false,
    true,
  );
}
