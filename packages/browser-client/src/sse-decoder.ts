import { createParser } from 'eventsource-parser';

export interface SseMessage {
  /** Event type; `message` when the block had no `event:` field. */
  readonly event: string;
  readonly data: string;
  /** The block's own `id:` field, `undefined` when it had none. */
  readonly id: string | undefined;
  /** The stream's last event ID after this block (WHATWG: it persists across blocks). */
  readonly lastEventId: string;
}

export interface SseDecoderHandlers {
  onMessage(message: SseMessage): void;
  onRetry?(ms: number): void;
  /** A line grew past `maxBufferSize`; the decoder discards its buffer and keeps going. */
  onOverflow?(): void;
}

export interface SseDecoder {
  /** Feed raw bytes exactly as they came off the wire, in any slicing. */
  push(bytes: Uint8Array): void;
  /** The stream ended: an unterminated final block is discarded, as the spec requires. */
  end(): void;
}

/**
 * WHATWG event-stream decoding on top of eventsource-parser, fixing what
 * that parser leaves to its caller:
 *
 * - Bytes are decoded as UTF-8 with a streaming TextDecoder, which also
 *   strips the one leading BOM even when it is split across chunks (the
 *   parser's own check compares code units 0xEF 0xBB 0xBF, i.e. it only works
 *   on Latin-1-decoded text and would wrongly eat the characters "ï»¿").
 * - A CR that ends a chunk is a complete line ending per the spec, but the
 *   parser holds it back waiting for a possible LF, so `data: x\r\r` is not
 *   dispatched until more bytes arrive — never, at the end of a stream. Line
 *   endings are normalised here instead, remembering a trailing CR so that an
 *   LF opening the next chunk is dropped (CRLF split across chunks).
 * - The last event ID persists across blocks (the parser reports only the
 *   block's own `id:`).
 */
export function createSseDecoder(
  handlers: SseDecoderHandlers,
  options: { lastEventId?: string; maxBufferSize?: number } = {},
): SseDecoder {
  const text = new TextDecoder();
  let lastEventId = options.lastEventId ?? '';
  let pendingCr = false;
  const parser = createParser({
    onEvent({ event, data, id }) {
      if (id !== undefined) lastEventId = id;
      handlers.onMessage({ event: event ?? 'message', data, id, lastEventId });
    },
    onRetry: (ms) => handlers.onRetry?.(ms),
    onError(error) {
      if (error.type === 'max-buffer-size-exceeded') {
        parser.reset();
        parser.feed('');
        handlers.onOverflow?.();
      }
    },
    maxBufferSize: options.maxBufferSize,
  });
  // Marks the parser's "first chunk" as seen so its Latin-1 BOM check never runs.
  parser.feed('');
  return {
    push(bytes) {
      let chunk = text.decode(bytes, { stream: true });
      // An empty decode (half a UTF-8 sequence) must not forget a pending CR.
      if (!chunk) return;
      if (pendingCr && chunk[0] === '\n') chunk = chunk.slice(1);
      pendingCr = chunk.endsWith('\r');
      parser.feed(chunk.replace(/\r\n?/g, '\n'));
    },
    end() {
      parser.reset();
    },
  };
}
