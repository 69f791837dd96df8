import { isUtf8 } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { BoardcastError } from '@boardcast/core';
import WebSocket from 'ws';
import type { OperationOptions } from '../board.js';
import { type BoardFrame, type BoardRequest, decodeBoardFrame, encodeBoardError, type HelloFrame } from './frames.js';

/**
 * The link's monotonic clock (whole ms). Wall-clock steps (NTP, a Pi without
 * RTC) never touch it. Whole numbers because it travels as `now`/`deadline`
 * and MicroPython on the ESP32 parses JSON floats as single precision, which
 * loses the millisecond after about 4.6 hours of server uptime.
 */
export const monotonicNow = (): number => Math.floor(performance.now());

export interface ConnectionOptions {
  readonly heartbeatMs: number;
  readonly missedHeartbeats: number;
  readonly requestTimeoutMs: number;
  readonly helloTimeoutMs: number;
  readonly maxBadFrames: number;
  /** Requests sent and not yet answered (the agent works through them one by one). */
  readonly maxInFlight: number;
  /** Requests waiting to be sent; beyond this a request fails at once with `too_many_requests`. */
  readonly maxQueuedRequests: number;
  /** Socket send-buffer bytes above which pongs and error frames are not sent (backpressure). */
  readonly maxBufferedBytes: number;
  /** Token bucket for frames from the board: sustained rate per second and burst. */
  readonly frameRate: { readonly perSecond: number; readonly burst: number };
  /** How much earlier than the server's own deadline the board is told to stop (ms, see `#send`). */
  readonly deadlineMarginMs: number;
  /** How long `shutdown()` waits for the board's close frame before cutting the socket. */
  readonly closeGraceMs: number;
}

export interface ConnectionHandlers {
  /** The board said hello. Returning an error refuses it: error frame, then close. */
  hello(conn: BoardConnection, hello: HelloFrame): BoardcastError | undefined;
  /** An edge or reading; an error return is answered like a malformed frame. */
  frame(conn: BoardConnection, frame: BoardFrame): BoardcastError | undefined;
  /** A request that was sent expired (timeout or abort) before its answer came. */
  expired(conn: BoardConnection, request: BoardRequest): void;
  /** The answer to a request that had already expired: the board did execute it. */
  late(conn: BoardConnection, request: BoardRequest, value: unknown): void;
  close(conn: BoardConnection, reason: string): void;
}

interface Request {
  readonly body: BoardRequest;
  readonly deadline: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: BoardcastError) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  id: number;
}

/** How many expired-but-sent requests are remembered so their late answers can be recognised. */
const EXPIRED_MEMORY = 256;

function abortReason(signal: AbortSignal): BoardcastError {
  const reason: unknown = signal.reason;
  return reason instanceof BoardcastError ? reason : new BoardcastError('timeout', 'the operation was cancelled');
}

/**
 * One agent's socket: hello gate, request/result matching by id, heartbeat
 * both ways, strict frame decoding and every per-connection bound.
 *
 * All outgoing frames go through `#write`, which applies one policy:
 * requests are bounded in number before they reach it; pongs and error
 * frames are dropped while the socket's send buffer is above
 * `maxBufferedBytes` (a board that does not read cannot make the server
 * buffer for it). Liveness, deadlines and the rate limit use the monotonic
 * clock, never `Date.now()`.
 */
export class BoardConnection {
  readonly ws: WebSocket;
  /** Peer address, for log lines. */
  readonly remoteAddress: string | undefined;
  boardId: string | undefined;
  /** Board ids this connection's credential may claim (`undefined`: any). */
  allowedBoards: ReadonlySet<string> | undefined;
  readonly #options: ConnectionOptions;
  readonly #handlers: ConnectionHandlers;
  readonly #inFlight = new Map<number, Request>();
  readonly #queue: Request[] = [];
  readonly #expired = new Map<number, BoardRequest>();
  #nextId = 1;
  #lastSeen = monotonicNow();
  #badFrames = 0;
  #tokens: number;
  #tokensAt = monotonicNow();
  #limitedAt = -Infinity;
  #closed = false;
  #closedPromise: Promise<void>;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #liveness: ReturnType<typeof setTimeout> | undefined;
  #helloTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    ws: WebSocket,
    options: ConnectionOptions,
    handlers: ConnectionHandlers,
    remoteAddress?: string,
    allowedBoards?: ReadonlySet<string>,
  ) {
    this.ws = ws;
    this.remoteAddress = remoteAddress;
    this.allowedBoards = allowedBoards;
    this.#options = options;
    this.#handlers = handlers;
    this.#tokens = options.frameRate.burst;
    this.#closedPromise = new Promise((resolve) => ws.once('close', () => resolve()));
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('pong', () => {
      this.#lastSeen = monotonicNow();
    });
    ws.on('close', (code, reason) => this.#onClose(`closed ${code}${reason.length ? ` ${reason.toString()}` : ''}`));
    ws.on('error', () => undefined); // 'close' follows; the reason is reported there
    this.#helloTimer = setTimeout(() => this.close(1008, 'no hello'), options.helloTimeoutMs);
    this.#heartbeat = setInterval(
      () => this.#write({ type: 'ping', t: monotonicNow(), now: monotonicNow() }, true),
      options.heartbeatMs,
    );
    this.#armLiveness();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Milliseconds since the board last sent anything (monotonic). */
  get silentMs(): number {
    return monotonicNow() - this.#lastSeen;
  }

  /** Requests sent and unanswered plus requests waiting to be sent. */
  get pendingRequests(): number {
    return this.#inFlight.size + this.#queue.length;
  }

  /**
   * Send `body` and resolve with the board's `value`. The request carries
   * `deadline = min(now + requestTimeoutMs, options.deadline)` on the
   * monotonic clock; at that time it rejects with `timeout`. A request whose
   * signal aborts (or whose deadline passes) while it waits in the queue is
   * never sent. Rejects with `too_many_requests` when the queue is full,
   * `board_offline` when the socket is gone.
   */
  request(body: BoardRequest, options: OperationOptions = {}): Promise<unknown> {
    if (this.#closed) return Promise.reject(this.#offline());
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const now = monotonicNow();
    const deadline = Math.min(now + this.#options.requestTimeoutMs, options.deadline ?? Number.POSITIVE_INFINITY);
    if (!(deadline > now)) return Promise.reject(this.#timeout(body, 'its deadline had passed before it was sent'));
    if (this.#inFlight.size >= this.#options.maxInFlight && this.#queue.length >= this.#options.maxQueuedRequests) {
      return Promise.reject(
        new BoardcastError(
          'too_many_requests',
          `board "${this.boardId ?? '?'}" has ${this.pendingRequests} requests waiting (limit ${this.#options.maxInFlight + this.#options.maxQueuedRequests})`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const request: Request = {
        body,
        deadline,
        resolve,
        reject,
        signal,
        id: 0,
        timer: undefined,
        onAbort: () => this.#expire(request, abortReason(signal as AbortSignal)),
      };
      request.timer = setTimeout(
        () => this.#expire(request, this.#timeout(body, `not answered within ${Math.round(deadline - now)} ms`)),
        deadline - now,
      );
      signal?.addEventListener('abort', request.onAbort, { once: true });
      if (this.#inFlight.size < this.#options.maxInFlight) this.#send(request);
      else this.#queue.push(request);
    });
  }

  /** Close now (code, reason); the board is offline at once. */
  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason);
      // A board that does not answer the close handshake is cut off.
      setTimeout(() => this.ws.terminate(), this.#options.closeGraceMs).unref();
    }
    this.#onClose(reason);
  }

  /** Close with a close frame and resolve once the socket is gone (at most `closeGraceMs` later). */
  shutdown(code: number, reason: string): Promise<void> {
    this.close(code, reason);
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    const cut = setTimeout(() => this.ws.terminate(), this.#options.closeGraceMs);
    return this.#closedPromise.finally(() => clearTimeout(cut));
  }

  /** Refuse a hello: error frame, then close with `closeCode`. */
  refuse(error: BoardcastError, closeCode: number): void {
    this.#write(encodeBoardError(error), false);
    this.close(closeCode, error.code);
  }

  #offline(): BoardcastError {
    return new BoardcastError('board_offline', `board "${this.boardId ?? '?'}" is offline`, {
      details: { board: this.boardId },
    });
  }

  #timeout(body: BoardRequest, why: string): BoardcastError {
    return new BoardcastError('timeout', `board "${this.boardId ?? '?'}" ${body.type}: ${why}`, {
      details: { board: this.boardId },
    });
  }

  #send(request: Request): void {
    request.id = this.#nextId++;
    this.#inFlight.set(request.id, request);
    // The board must act early enough for its answer to arrive before the
    // server gives up, and its estimate of the server clock lags by up to
    // one link latency: it gets a deadline a margin (a quarter of what is
    // left, at most deadlineMarginMs) before the server's own.
    const left = request.deadline - monotonicNow();
    const margin = Math.min(this.#options.deadlineMarginMs, Math.max(0, left / 4));
    this.#write({ ...request.body, id: request.id, deadline: Math.floor(request.deadline - margin) }, false);
  }

  /** Timeout or abort: a queued request is dropped unsent; a sent one is remembered for its late answer. */
  #expire(request: Request, error: BoardcastError): void {
    if (!this.#settle(request)) return;
    const queued = this.#queue.indexOf(request);
    if (queued >= 0) this.#queue.splice(queued, 1);
    else if (this.#inFlight.delete(request.id)) {
      this.#expired.set(request.id, request.body);
      if (this.#expired.size > EXPIRED_MEMORY) this.#expired.delete(this.#expired.keys().next().value as number);
      this.#handlers.expired(this, request.body);
      this.#pump();
    }
    request.reject(error);
  }

  /** Clears the request's timer and abort listener; false when it was already settled. */
  #settle(request: Request): boolean {
    if (request.timer === undefined) return false;
    clearTimeout(request.timer);
    request.timer = undefined;
    request.signal?.removeEventListener('abort', request.onAbort);
    return true;
  }

  /** Move queued requests into the free in-flight slots; expired ones never leave the queue. */
  #pump(): void {
    while (this.#inFlight.size < this.#options.maxInFlight && this.#queue.length > 0 && !this.#closed) {
      this.#send(this.#queue.shift() as Request);
    }
  }

  /**
   * The one place frames leave. `droppable` frames (pings, pongs, error
   * answers) are skipped while the send buffer is over the bound; requests
   * and refusals are always written (their number is bounded upstream).
   */
  #write(frame: object | string, droppable: boolean): void {
    if (this.#closed || this.ws.readyState !== WebSocket.OPEN) return;
    if (droppable && this.ws.bufferedAmount > this.#options.maxBufferedBytes) return;
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Offline exactly when the board has been silent for `missedHeartbeats` periods (monotonic timer). */
  #armLiveness(): void {
    const limit = this.#options.heartbeatMs * this.#options.missedHeartbeats;
    const check = () => {
      if (this.#closed) return;
      const silent = monotonicNow() - this.#lastSeen;
      if (silent >= limit) {
        this.ws.terminate();
        this.#onClose(`no frame for ${Math.round(silent)} ms (${this.#options.missedHeartbeats} heartbeats)`);
        return;
      }
      this.#liveness = setTimeout(check, limit - silent + 1);
    };
    this.#liveness = setTimeout(check, limit);
  }

  /** Token bucket on the monotonic clock; false when the frame is over the rate. */
  #admit(): boolean {
    const now = monotonicNow();
    const { perSecond, burst } = this.#options.frameRate;
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#tokensAt) * perSecond) / 1000);
    this.#tokensAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return true;
    }
    return false;
  }

  #onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    // ws still delivers what arrived before our close: a refused agent's
    // burst of hellos must not become a burst of refusals and reject events.
    if (this.#closed) return;
    this.#lastSeen = monotonicNow();
    if (!this.#admit()) {
      this.#overRate();
      return;
    }
    const problem = this.#handle(data, isBinary);
    if (problem) this.#bad(problem);
  }

  /**
   * Frames over the rate are dropped; the board hears `too_many_requests`
   * at most once a second, and a board still over the rate a second after
   * that warning (the bucket never refilled) is closed with 1013.
   */
  #overRate(): void {
    const now = monotonicNow();
    if (now - this.#limitedAt < 1000) return;
    if (now - this.#limitedAt < 2000 && this.#tokens < 1) {
      this.close(1013, 'too_many_requests: frame rate');
      return;
    }
    this.#limitedAt = now;
    const { perSecond, burst } = this.#options.frameRate;
    this.#write(
      encodeBoardError(
        new BoardcastError('too_many_requests', `more than ${perSecond} frames/s (burst ${burst}); frames dropped`),
      ),
      true,
    );
  }

  /** Acts on one frame; returns the error to answer when the frame is malformed. */
  #handle(data: WebSocket.RawData, isBinary: boolean): BoardcastError | undefined {
    if (isBinary) return new BoardcastError('invalid_payload', 'binary frames are not part of the board link');
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    // ws runs with skipUTF8Validation so that a bad frame is answered, not
    // closed with 1007: the check is done here.
    if (!isUtf8(bytes)) return new BoardcastError('invalid_payload', 'frame is not valid UTF-8');
    const decoded = decodeBoardFrame(bytes.toString('utf8'));
    if (!decoded.ok) return decoded.error;
    const frame = decoded.frame;
    if (this.boardId === undefined) {
      if (frame.type !== 'hello') return new BoardcastError('invalid_payload', 'the first frame must be hello');
      clearTimeout(this.#helloTimer);
      this.boardId = frame.id;
      const refused = this.#handlers.hello(this, frame);
      if (refused) {
        this.boardId = undefined;
        this.refuse(refused, refused.code === 'board_conflict' ? 4409 : refused.closeCode);
        return undefined;
      }
      this.#write({ type: 'welcome', heartbeatMs: this.#options.heartbeatMs, now: monotonicNow() }, false);
      return undefined;
    }
    switch (frame.type) {
      case 'hello':
        return new BoardcastError('invalid_payload', 'hello was already received');
      case 'ping':
        this.#write(
          frame.t === undefined
            ? { type: 'pong', now: monotonicNow() }
            : { type: 'pong', t: frame.t, now: monotonicNow() },
          true,
        );
        return undefined;
      case 'pong':
        return undefined;
      case 'result': {
        const request = this.#inFlight.get(frame.id);
        if (!request) {
          const expired = this.#expired.get(frame.id);
          if (expired) {
            this.#expired.delete(frame.id);
            if (frame.ok) this.#handlers.late(this, expired, frame.value);
          }
          return undefined;
        }
        this.#inFlight.delete(frame.id);
        this.#settle(request);
        if (frame.ok) request.resolve(frame.value);
        else request.reject(BoardcastError.fromJSON(frame.error));
        this.#pump();
        return undefined;
      }
      default:
        return this.#handlers.frame(this, frame);
    }
  }

  #bad(error: BoardcastError): void {
    this.#badFrames++;
    this.#write(encodeBoardError(error), true);
    if (this.#badFrames > this.#options.maxBadFrames) this.close(1008, 'too many malformed frames');
  }

  #onClose(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#helloTimer);
    clearTimeout(this.#liveness);
    const error = new BoardcastError('board_offline', `board "${this.boardId ?? '?'}" went offline (${reason})`, {
      details: { board: this.boardId },
    });
    for (const request of [...this.#inFlight.values(), ...this.#queue]) {
      this.#settle(request);
      request.reject(error);
    }
    this.#inFlight.clear();
    this.#queue.length = 0;
    this.#expired.clear();
    this.#handlers.close(this, reason);
  }
}
