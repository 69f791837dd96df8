import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { httpChunk } from './chunk-cache.js';
import type { SseConnection } from './connection.js';

/** Who hears that the peer closed the stream (the client itself, so no closure per connection). */
export interface ConnectionOwner {
  close(reason: 'client' | 'error'): void;
}

const nativeWrite = ServerResponse.prototype.write;
const nativeEnd = ServerResponse.prototype.end;

/**
 * SSE over a node:http (or Express, or Fastify raw) response.
 *
 * Fast path: when Node chose chunked encoding for this HTTP/1.1 response and
 * nothing wraps `res.write` (compression middleware does), every frame is
 * written to the socket as one complete HTTP chunk, built once per frame and
 * shared by every client (see chunk-cache.ts). `res.write(string)` would
 * instead build a chunk-size string, cork, uncork on the next tick, writev
 * three parts and UTF-8 encode the same frame again for every client.
 * The choice is made once, before the first byte of body, and every write
 * of the response takes the same path, so bytes can never be reordered.
 * `res.end()` stays correct: it writes the `0\r\n\r\n` terminator straight
 * to the same socket, after what we wrote, so keep-alive reuse works.
 */
export class NodeConnection implements SseConnection {
  readonly #res: ServerResponse;
  /** The connection's socket (also for a pipelined response that has none of its own yet). */
  readonly #socket: Socket;
  readonly #owner: ConnectionOwner;
  /** Set when frames go straight to the socket as pre-framed chunks. */
  readonly #direct: Socket | undefined;
  /** HTTP/2 stream accounting (undefined on HTTP/1): see {@link H2Count}. */
  readonly #h2: H2Count | undefined;
  #drain: (() => void) | undefined;

  constructor(req: IncomingMessage, res: ServerResponse, owner: ConnectionOwner) {
    this.#res = res;
    this.#socket = req.socket;
    this.#owner = owner;
    // Headers leave now, so the fast-path checks see what Node decided.
    res.flushHeaders();
    this.#direct = directSocket(req, res);
    if (req.httpVersionMajor === 2) this.#h2 = { written: 0, tick: -1, tickBytes: 0 };
    res.on('close', this.#handleClose);
    res.on('error', this.#handleError);
  }

  /** Whether frames are written as pre-framed chunks to the socket (exposed for tests). */
  get direct(): boolean {
    return this.#direct !== undefined;
  }

  write(chunk: string): boolean {
    const socket = this.#direct;
    const h2 = this.#h2;
    if (h2 !== undefined) countH2(h2, chunk);
    if (socket === undefined) return this.#res.write(chunk);
    // An empty chunk would be read as the end of the body.
    if (chunk === '') return true;
    return socket.write(httpChunk(chunk));
  }

  get flushed(): number {
    // An HTTP/2 stream shares its socket with the session's other streams: count its own bytes.
    const h2 = this.#h2;
    if (h2 !== undefined) return h2.written - this.#res.writableLength;
    // bytesWritten counts what is still queued too; take that back out.
    const socket = this.#socket;
    return (socket.bytesWritten ?? 0) - socket.writableLength;
  }

  onGone(listener: () => void): void {
    const res = this.#res;
    if (res.writableFinished || res.destroyed) {
      listener();
      return;
    }
    let called = false;
    const once = () => {
      if (called) return;
      called = true;
      listener();
    };
    res.once('finish', once);
    res.once('close', once);
  }

  /** Bytes in the response and its socket: what a client that stops reading costs us. */
  get buffered(): number {
    const h2 = this.#h2;
    if (h2 === undefined) return this.#res.writableLength;
    // An HTTP/2 stream hands its writes to the session only after this tick,
    // so what was written in this tick is waiting on us, not on the peer: a
    // burst of events must not look like a slow client. What is left from
    // earlier ticks is what the peer's flow-control window holds back —
    // per stream, so a slow stream is cut alone.
    return Math.max(0, this.#res.writableLength - (h2.tick === currentTick ? h2.tickBytes : 0));
  }

  onDrain(listener: () => void): void {
    this.#removeDrain();
    this.#drain = listener;
    // A response only emits 'drain' for its own writes; ours went to the socket.
    (this.#direct ?? this.#res).once('drain', this.#handleDrain);
  }

  end(): void {
    this.#dispose();
    if (this.#res.writableLength > 0) {
      this.destroy();
      return;
    }
    // The terminator leaves the connection idle and reusable. But an HTTP
    // server whose close() already ran closes idle connections only once,
    // at that call: then let this one go now rather than after its
    // keep-alive timeout (5 s by default), so a shutdown is not held up.
    const socket = this.#socket;
    this.#res.once('finish', () => {
      const server = (socket as Socket & { server?: { listening?: boolean } }).server;
      // Once our bytes are with the kernel, release the descriptor: the
      // kernel still delivers them and the FIN, even to a peer that is not
      // reading now, and nothing waits on the peer any more.
      if (server && server.listening === false) socket.end(() => socket.destroy());
    });
    this.#res.end();
  }

  destroy(): void {
    this.#dispose();
    this.#res.destroy();
    // A response destroyed with unsent data may leave the socket up.
    this.#socket.destroy();
  }

  readonly #handleDrain = (): void => {
    const listener = this.#drain;
    this.#drain = undefined;
    listener?.();
  };

  readonly #handleClose = (): void => {
    this.#dispose();
    this.#owner.close('client');
  };

  readonly #handleError = (): void => {
    this.#dispose();
    this.#owner.close('error');
  };

  #removeDrain(): void {
    if (this.#drain) (this.#direct ?? this.#res).off('drain', this.#handleDrain);
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

/**
 * The socket, when pre-framed chunks may be written to it: HTTP/1.1 with
 * chunked encoding chosen by Node, `write`/`end` not replaced by middleware,
 * the socket attached to this response (not queued behind a pipelined one)
 * and nothing of the response still waiting outside the socket.
 */
function directSocket(req: IncomingMessage, res: ServerResponse): Socket | undefined {
  const socket = res.socket as Socket | null;
  if (!socket?.writable || socket.destroyed) return undefined;
  if (req.httpVersion !== '1.1' || !res.chunkedEncoding || !res.headersSent) return undefined;
  if (res.write !== nativeWrite || res.end !== nativeEnd) return undefined;
  const encoding = res.getHeader('transfer-encoding');
  if (encoding !== undefined && String(encoding).toLowerCase() !== 'chunked') return undefined;
  // Anything held by the response itself (not yet in the socket) would be overtaken.
  if (res.writableLength !== socket.writableLength) return undefined;
  return socket;
}

function ignore(): void {}

/** Bytes an HTTP/2 stream was given in all (`written`) and in the tick numbered `tick` (`tickBytes`). */
interface H2Count {
  written: number;
  tick: number;
  tickBytes: number;
}

/**
 * A tick counter shared by every HTTP/2 connection: one `setImmediate` per
 * tick with writes, however many streams are open (not one per stream).
 */
let currentTick = 0;
let tickScheduled = false;
const nextTick = () => {
  currentTick++;
  tickScheduled = false;
};

function countH2(count: H2Count, chunk: string): void {
  const bytes = Buffer.byteLength(chunk);
  count.written += bytes;
  if (count.tick !== currentTick) {
    count.tick = currentTick;
    count.tickBytes = 0;
  }
  count.tickBytes += bytes;
  if (!tickScheduled) {
    tickScheduled = true;
    setImmediate(nextTick);
  }
}
