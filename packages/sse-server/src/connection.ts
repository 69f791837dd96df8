/**
 * The small surface the SSE client logic needs from a transport, so the
 * same code drives a Node `ServerResponse` and a Fetch `ReadableStream`.
 */
export interface SseConnection {
  /**
   * Queue one complete frame. Never throws for a live connection. Returns
   * false when data is piling up, so `buffered` is only read when it matters.
   */
  write(chunk: string): boolean;
  /** Bytes written but not yet handed to the peer (our own measure, not the runtime's hint). */
  readonly buffered: number;
  /**
   * Bytes the peer's side has taken so far (handed to the kernel on Node,
   * read from the stream on Fetch). Only its change matters: the liveness
   * check drops a stream whose data waits while this stands still.
   */
  readonly flushed: number;
  /** Call `listener` once, the next time the buffer has been flushed. */
  onDrain(listener: () => void): void;
  /** Finish the stream after what is already queued. */
  end(): void;
  /** Drop the stream and whatever is still queued (frees the memory at once). */
  destroy(): void;
  /** Call `listener` once the stream has been fully sent or dropped (at once if it already has). */
  onGone(listener: () => void): void;
}
