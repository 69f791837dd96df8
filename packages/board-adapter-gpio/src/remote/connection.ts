import { BoardcastError } from '@boardcast/core';
import WebSocket from 'ws';
import { type BoardFrame, type BoardRequest, decodeBoardFrame, encodeBoardError, type HelloFrame } from './frames.js';

export interface ConnectionOptions {
  readonly heartbeatMs: number;
  readonly missedHeartbeats: number;
  readonly requestTimeoutMs: number;
  readonly helloTimeoutMs: number;
  readonly maxBadFrames: number;
}

export interface ConnectionHandlers {
  hello(conn: BoardConnection, hello: HelloFrame): void;
  frame(frame: BoardFrame): void;
  close(conn: BoardConnection, reason: string): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: BoardcastError): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * One agent's socket: hello gate, request/result matching by id, heartbeat
 * both ways and strict frame decoding. A bad frame gets an `error` frame
 * back and touches nothing else.
 */
export class BoardConnection {
  readonly ws: WebSocket;
  boardId: string | undefined;
  readonly #options: ConnectionOptions;
  readonly #handlers: ConnectionHandlers;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #lastSeen = Date.now();
  #badFrames = 0;
  #closed = false;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #helloTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(ws: WebSocket, options: ConnectionOptions, handlers: ConnectionHandlers) {
    this.ws = ws;
    this.#options = options;
    this.#handlers = handlers;
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('pong', () => {
      this.#lastSeen = Date.now();
    });
    ws.on('close', (code, reason) => this.#onClose(`closed ${code}${reason.length ? ` ${reason.toString()}` : ''}`));
    ws.on('error', () => undefined); // 'close' follows; the reason is reported there
    this.#helloTimer = setTimeout(() => this.close(1008, 'no hello'), options.helloTimeoutMs);
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatMs);
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(frame: object): void {
    if (this.#closed || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify(frame));
  }

  request(body: BoardRequest): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(new BoardcastError('board_offline', `board "${this.boardId ?? '?'}" is offline`));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new BoardcastError(
            'timeout',
            `board "${this.boardId}" did not answer ${body.type} within ${this.#options.requestTimeoutMs} ms`,
          ),
        );
      }, this.#options.requestTimeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.send({ ...body, id });
    });
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(code, reason);
      // A board that does not answer the close handshake is cut off.
      setTimeout(() => this.ws.terminate(), 1000).unref();
    }
    this.#onClose(reason);
  }

  #beat(): void {
    const silent = Date.now() - this.#lastSeen;
    if (silent > this.#options.heartbeatMs * this.#options.missedHeartbeats) {
      this.ws.terminate();
      this.#onClose(`no heartbeat for ${silent} ms`);
      return;
    }
    this.send({ type: 'ping', t: Date.now() });
  }

  #onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    this.#lastSeen = Date.now();
    const problem = this.#handle(data, isBinary);
    if (problem) this.#bad(problem);
  }

  /** Acts on one frame; returns the error to answer when the frame is malformed. */
  #handle(data: WebSocket.RawData, isBinary: boolean): BoardcastError | undefined {
    if (isBinary) return new BoardcastError('invalid_payload', 'binary frames are not part of the board link');
    const text = Array.isArray(data)
      ? Buffer.concat(data).toString('utf8')
      : Buffer.from(data as ArrayBuffer).toString('utf8');
    const decoded = decodeBoardFrame(text);
    if (!decoded.ok) return decoded.error;
    const frame = decoded.frame;
    if (this.boardId === undefined) {
      if (frame.type !== 'hello') return new BoardcastError('invalid_payload', 'the first frame must be hello');
      clearTimeout(this.#helloTimer);
      this.boardId = frame.id;
      this.send({ type: 'welcome', heartbeatMs: this.#options.heartbeatMs });
      this.#handlers.hello(this, frame);
      return undefined;
    }
    switch (frame.type) {
      case 'hello':
        return new BoardcastError('invalid_payload', 'hello was already received');
      case 'ping':
        this.send({ type: 'pong', t: frame.t });
        return undefined;
      case 'pong':
        return undefined;
      case 'result': {
        const pending = this.#pending.get(frame.id);
        if (!pending) return undefined; // late answer after a timeout
        this.#pending.delete(frame.id);
        clearTimeout(pending.timer);
        if (frame.ok) pending.resolve(frame.value);
        else pending.reject(BoardcastError.fromJSON(frame.error));
        return undefined;
      }
      default:
        this.#handlers.frame(frame);
        return undefined;
    }
  }

  #bad(error: BoardcastError): void {
    this.#badFrames++;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeBoardError(error));
    if (this.#badFrames > this.#options.maxBadFrames) this.close(1008, 'too many malformed frames');
  }

  #onClose(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#helloTimer);
    const error = new BoardcastError('board_offline', `board "${this.boardId ?? '?'}" went offline (${reason})`);
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
    this.#handlers.close(this, reason);
  }
}
