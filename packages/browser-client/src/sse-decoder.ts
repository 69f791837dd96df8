export interface SseMessage {
  /** Event type; `message` when the block had no `event:` field. */
  readonly event: string;
  readonly data: string;
  /** The block's own `id:` field, `undefined` when it had none. */
  readonly id: string | undefined;
  /** The stream's last event ID after this block (WHATWG: it persists across blocks). */
  readonly lastEventId: string;
}

/** A block whose data was larger than `maxBufferSize`: skipped, never buffered. */
export interface SseOverflow {
  /** Event type (`message` when it had none). */
  readonly event: string;
  /** The block's own `id:` field, when it had one. */
  readonly id: string | undefined;
  /** Characters skipped: the data received of it, over-long lines counted whole (`data: ` included). */
  readonly size: number;
}

export interface SseDecoderHandlers {
  onMessage(message: SseMessage): void;
  onRetry?(ms: number): void;
  /**
   * A block's data grew past `maxBufferSize`. Called when the block ends
   * (its blank line), so it names the block's `id:` and `event:` and the
   * size; the decoder drops the data as it arrives and goes on with the
   * next block: only that block is lost.
   */
  onOverflow?(overflow: SseOverflow): void;
}

export interface SseDecoder {
  /** Feed raw bytes exactly as they came off the wire, in any slicing. */
  push(bytes: Uint8Array): void;
  /** The stream ended: an unterminated final block is discarded, as the spec requires. */
  end(): void;
}

const LINE_END = /[\r\n]/g;
const DIGITS = /^\d+$/;

/**
 * WHATWG event-stream decoding ("event stream interpretation", HTML §9.2.6),
 * written out here rather than on eventsource-parser because of what a
 * client needs beyond the parser: skipping exactly one over-large block and
 * knowing its id (the parser drops its whole buffer, id included, on
 * overflow), a CR at the end of a chunk ending the line at once (the parser
 * waits for a possible LF, so `data: x\r\r` stayed undelivered), the BOM
 * stripped on bytes (its check compares Latin-1 code units), and the last
 * event ID persisting across blocks. The web-platform-tests format-* cases
 * are its tests.
 */
export function createSseDecoder(
  handlers: SseDecoderHandlers,
  options: { lastEventId?: string; maxBufferSize?: number } = {},
): SseDecoder {
  const max = options.maxBufferSize ?? Number.POSITIVE_INFINITY;
  // The streaming decoder also strips the one leading BOM, even split across chunks.
  let text = new TextDecoder();
  let lastEventId = options.lastEventId ?? '';
  let line = '';
  /** Characters of the current line dropped because it was too long (-1: none). */
  let dropped = -1;
  let pendingCr = false;
  // The block being read.
  let data = '';
  let event = '';
  let id: string | undefined;
  /** Characters skipped in this block (-1: nothing skipped). */
  let skipped = -1;

  const reset = () => {
    data = event = '';
    id = undefined;
    skipped = -1;
  };
  const skip = (size: number) => {
    skipped = Math.max(skipped, 0) + size + data.length;
    data = '';
  };
  const append = (part: string) => {
    if (dropped >= 0) dropped += part.length;
    else if (line.length + part.length + data.length > max) {
      dropped = line.length + part.length;
      line = '';
    } else line += part;
  };
  const endLine = () => {
    if (dropped >= 0) {
      skip(dropped);
      dropped = -1;
      return;
    }
    const l = line;
    line = '';
    if (l === '') {
      if (skipped >= 0) handlers.onOverflow?.({ event: event || 'message', id, size: skipped });
      else if (data !== '') handlers.onMessage({ event: event || 'message', data: data.slice(0, -1), id, lastEventId });
      reset();
      return;
    }
    const colon = l.indexOf(':');
    if (colon === 0) return;
    const field = colon < 0 ? l : l.slice(0, colon);
    const value = colon < 0 ? '' : l.slice(l[colon + 1] === ' ' ? colon + 2 : colon + 1);
    if (field === 'data') {
      if (skipped >= 0) skip(value.length + 1);
      else if (data.length + value.length + 1 > max) skip(value.length + 1);
      else data += `${value}\n`;
    } else if (field === 'event') event = value;
    else if (field === 'id') {
      if (!value.includes('\0')) lastEventId = id = value;
    } else if (field === 'retry' && DIGITS.test(value)) handlers.onRetry?.(Number(value));
  };

  return {
    push(bytes) {
      const chunk = text.decode(bytes, { stream: true });
      let start = 0;
      // An LF right after a CR that ended the previous chunk belongs to that line ending.
      if (pendingCr && chunk[0] === '\n') start = 1;
      // An empty decode (half a UTF-8 sequence) must not forget a pending CR.
      if (chunk !== '') pendingCr = false;
      LINE_END.lastIndex = start;
      for (let m = LINE_END.exec(chunk); m; m = LINE_END.exec(chunk)) {
        append(chunk.slice(start, m.index));
        endLine();
        start = m.index + 1;
        if (chunk[m.index] === '\r') {
          if (start === chunk.length) pendingCr = true;
          else if (chunk[start] === '\n') start++;
        }
        LINE_END.lastIndex = start;
      }
      if (start < chunk.length) append(chunk.slice(start));
    },
    end() {
      text = new TextDecoder();
      line = '';
      dropped = -1;
      pendingCr = false;
      reset();
    },
  };
}
