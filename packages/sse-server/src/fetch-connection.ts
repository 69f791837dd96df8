import type { SseConnection } from './connection.js';
import { utf8Bytes } from './utf8-cache.js';

/**
 * SSE as a Fetch `ReadableStream` (Hono, Next.js, Bun, Deno). The queue's
 * high-water mark is 0 and its size is counted in bytes, so `-desiredSize`
 * is exactly the bytes the consumer has not taken yet, and `pull` runs only
 * when the consumer waits on an empty queue: that is our drain signal.
 */
export class FetchConnection implements SseConnection {
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #drain: (() => void) | undefined;
  #open = true;
  #enqueued = 0;
  readonly #signal: AbortSignal | undefined;
  readonly #onClose: (reason: 'client' | 'error') => void;

  constructor(signal: AbortSignal | undefined, onClose: (reason: 'client' | 'error') => void) {
    this.#signal = signal;
    this.#onClose = onClose;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => {
          const listener = this.#drain;
          this.#drain = undefined;
          listener?.();
        },
        cancel: () => this.#closed('client'),
      },
      { highWaterMark: 0, size: (chunk) => chunk.byteLength },
    );
    signal?.addEventListener('abort', this.#handleAbort);
  }

  write(chunk: string): boolean {
    if (!this.#open) return true;
    const bytes = utf8Bytes(chunk);
    this.#enqueued += bytes.byteLength;
    this.#controller.enqueue(bytes);
    // 0 means a waiting reader took the chunk at once.
    return this.#controller.desiredSize === 0;
  }

  get buffered(): number {
    return this.#open ? -(this.#controller.desiredSize ?? 0) : 0;
  }

  get flushed(): number {
    return this.#enqueued - this.buffered;
  }

  /** The queue is closed (empty) or dropped as soon as end()/destroy() return. */
  onGone(listener: () => void): void {
    listener();
  }

  onDrain(listener: () => void): void {
    this.#drain = listener;
  }

  end(): void {
    const pending = this.buffered;
    if (!this.#dispose()) return;
    try {
      // A consumer that is not reading would keep a closed stream's queue alive.
      if (pending > 0) this.#controller.error(droppedError());
      else this.#controller.close();
    } catch {
      // Already closed by the consumer.
    }
  }

  destroy(): void {
    if (!this.#dispose()) return;
    try {
      // error() drops the queued chunks at once, unlike close(). The code is
      // the one Node uses for a stream closed early: @hono/node-server then
      // logs one line instead of a stack, and the endpoint's `disconnect`
      // event (reason `slow`/`timeout`) is where the app hears of it.
      this.#controller.error(droppedError());
    } catch {
      // Already closed by the consumer.
    }
  }

  readonly #handleAbort = (): void => this.#closed('client');

  #closed(reason: 'client' | 'error'): void {
    if (this.#dispose()) this.#onClose(reason);
  }

  /** Returns false when already disposed. */
  #dispose(): boolean {
    if (!this.#open) return false;
    this.#open = false;
    this.#drain = undefined;
    this.#signal?.removeEventListener('abort', this.#handleAbort);
    return true;
  }
}

function droppedError(): Error {
  return Object.assign(new Error('boardcast: event stream dropped with unsent data'), {
    code: 'ERR_STREAM_PREMATURE_CLOSE',
  });
}
