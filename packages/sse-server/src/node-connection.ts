import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SseConnection } from './connection.js';

/** SSE over a node:http (or Express, or Fastify raw) response. */
export class NodeConnection implements SseConnection {
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #onClose: (reason: 'client' | 'error') => void;
  #drain: (() => void) | undefined;

  constructor(req: IncomingMessage, res: ServerResponse, onClose: (reason: 'client' | 'error') => void) {
    this.#req = req;
    this.#res = res;
    this.#onClose = onClose;
    res.on('close', this.#handleClose);
    res.on('error', this.#handleError);
  }

  write(chunk: string): boolean {
    return this.#res.write(chunk);
  }

  /** Bytes in the response and its socket: what a client that stops reading costs us. */
  get buffered(): number {
    return this.#res.writableLength;
  }

  onDrain(listener: () => void): void {
    this.#removeDrain();
    this.#drain = listener;
    this.#res.once('drain', this.#handleDrain);
  }

  end(): void {
    this.#dispose();
    if (this.#res.writableLength > 0) this.#res.destroy();
    else this.#res.end();
  }

  destroy(): void {
    this.#dispose();
    this.#res.destroy();
    // A response destroyed with unsent data may leave the socket up.
    this.#req.socket.destroy();
  }

  readonly #handleDrain = (): void => {
    const listener = this.#drain;
    this.#drain = undefined;
    listener?.();
  };

  readonly #handleClose = (): void => {
    this.#dispose();
    this.#onClose('client');
  };

  readonly #handleError = (): void => {
    this.#dispose();
    this.#onClose('error');
  };

  #removeDrain(): void {
    if (this.#drain) this.#res.off('drain', this.#handleDrain);
    this.#drain = undefined;
  }

  #dispose(): void {
    this.#removeDrain();
    this.#res.off('close', this.#handleClose);
    // Keep a no-op error listener: a late socket error must not crash the process.
    this.#res.off('error', this.#handleError);
    this.#res.on('error', ignore);
  }
}

function ignore(): void {}
