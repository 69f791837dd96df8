import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { BoardcastError, Emitter } from '@boardcast/core';
import { WebSocketServer } from 'ws';
import { BoardConnection, type ConnectionOptions } from './connection.js';
import { BOARD_PROTOCOL, type HelloFrame } from './frames.js';
import { RemoteBoard } from './remote-board.js';

export interface BoardLinkOptions {
  /** Shared secret each agent sends as `Authorization: Bearer <token>` (or `?token=`), or a check function. */
  readonly token: string | ((token: string | undefined, request: IncomingMessage) => boolean | Promise<boolean>);
  /** URL path of the endpoint (default `/board`). Upgrades on other paths are left to other handlers. */
  readonly path?: string;
  /** Server → board ping period; also sent to the agent in `welcome` (default 5000 ms). */
  readonly heartbeatMs?: number;
  /** A board silent for this many heartbeat periods is cut off and marked offline (default 2). */
  readonly missedHeartbeats?: number;
  /** How long a write/read/mode may take to be answered (default 5000 ms). */
  readonly requestTimeoutMs?: number;
  /** A socket must say hello within this time (default 10000 ms). */
  readonly helloTimeoutMs?: number;
  /** Largest frame accepted from a board, in bytes (default 16384). */
  readonly maxPayload?: number;
  /** Concurrent board sockets (default 64); more are refused with 503. */
  readonly maxConnections?: number;
  /** Malformed frames tolerated per connection before it is closed (default 20). */
  readonly maxBadFrames?: number;
}

export type BoardLinkEvents = {
  /** An agent said hello (first time or again). */
  connect: (board: RemoteBoard) => void;
  disconnect: (board: RemoteBoard, reason: string) => void;
  /** A refused or failed upgrade, or a board error nobody else sees. */
  error: (error: unknown, where: string) => void;
};

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function refuse(socket: Duplex, error: BoardcastError): void {
  const body = JSON.stringify(error.toBody());
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}\r\n` +
      'Connection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.once('error', () => undefined);
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * The board-link endpoint. It listens to the server's `upgrade` event for its
 * own path only, so a browser WebSocket endpoint (`/api/ws`) can share the
 * same `http.Server`.
 */
export class BoardLink extends Emitter<BoardLinkEvents> {
  readonly path: string;
  readonly #server: HttpServer | HttpsServer;
  readonly #options: BoardLinkOptions;
  readonly #conn: ConnectionOptions;
  readonly #wss: WebSocketServer;
  readonly #boards = new Map<string, RemoteBoard>();
  readonly #sockets = new Set<BoardConnection>();
  readonly #tokenDigest: Buffer | undefined;
  #closed = false;

  constructor(server: HttpServer | HttpsServer, options: BoardLinkOptions) {
    super();
    if (typeof options.token === 'string' && options.token.length === 0) {
      throw new TypeError('BoardLink: token must not be empty');
    }
    this.path = options.path ?? '/board';
    this.#server = server;
    this.#options = options;
    this.#tokenDigest = typeof options.token === 'string' ? digest(options.token) : undefined;
    const heartbeatMs = options.heartbeatMs ?? 5000;
    this.#conn = {
      heartbeatMs,
      missedHeartbeats: options.missedHeartbeats ?? 2,
      requestTimeoutMs: options.requestTimeoutMs ?? 5000,
      helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
      maxBadFrames: options.maxBadFrames ?? 20,
    };
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload ?? 16_384,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has(BOARD_PROTOCOL) ? BOARD_PROTOCOL : false),
    });
    server.on('upgrade', this.#onUpgrade);
  }

  /** The board with this id, created (offline) if no agent has connected yet. */
  board(id: string): RemoteBoard {
    let board = this.#boards.get(id);
    if (!board) {
      board = new RemoteBoard(id);
      this.#boards.set(id, board);
    }
    return board;
  }

  get boards(): readonly RemoteBoard[] {
    return [...this.#boards.values()];
  }

  get connectionCount(): number {
    return this.#sockets.size;
  }

  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    let pathname: string;
    let query: URLSearchParams;
    try {
      const url = new URL(request.url ?? '/', 'http://localhost');
      pathname = url.pathname;
      query = url.searchParams;
    } catch {
      return;
    }
    if (pathname !== this.path) return; // someone else's endpoint
    void this.#accept(request, socket, head, query).catch((error) => {
      this.emit('error', error, 'upgrade');
      socket.destroy();
    });
  };

  async #accept(request: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams): Promise<void> {
    if (this.#closed) return refuse(socket, new BoardcastError('too_many_clients', 'board link is closed'));
    const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(BOARD_PROTOCOL)) {
      return refuse(socket, new BoardcastError('invalid_payload', `subprotocol ${BOARD_PROTOCOL} is required`));
    }
    const auth = request.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : (query.get('token') ?? undefined);
    if (!(await this.#authorize(token, request))) {
      this.emit('error', new BoardcastError('unauthorized', 'board refused: bad token'), 'auth');
      return refuse(socket, new BoardcastError('unauthorized', 'bad or missing board token'));
    }
    if (this.#sockets.size >= (this.#options.maxConnections ?? 64)) {
      return refuse(socket, new BoardcastError('too_many_clients', 'too many board connections'));
    }
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      if (this.#closed) return ws.close(1001, 'board link closed');
      const conn = new BoardConnection(ws, this.#conn, {
        hello: (c, hello) => this.#onHello(c, hello),
        frame: (frame) => {
          if (conn.boardId !== undefined) this.#boards.get(conn.boardId)?.frame(frame);
        },
        close: (c, reason) => {
          this.#sockets.delete(c);
          if (c.boardId === undefined) return;
          const board = this.#boards.get(c.boardId);
          if (!board) return;
          board.detach(c);
          this.emit('disconnect', board, reason);
        },
      });
      this.#sockets.add(conn);
    });
  }

  async #authorize(token: string | undefined, request: IncomingMessage): Promise<boolean> {
    const check = this.#options.token;
    if (typeof check === 'function') {
      try {
        return (await check(token, request)) === true;
      } catch (error) {
        this.emit('error', error, 'token check');
        return false;
      }
    }
    return token !== undefined && timingSafeEqual(digest(token), this.#tokenDigest!);
  }

  #onHello(conn: BoardConnection, hello: HelloFrame): void {
    const board = this.board(hello.id);
    this.emit('connect', board);
    void board.attach(conn, hello);
  }

  /** Close every board socket and stop listening for upgrades on this path. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.off('upgrade', this.#onUpgrade);
    for (const conn of [...this.#sockets]) {
      conn.close(1001, 'server shutting down');
      conn.ws.terminate();
    }
    this.#sockets.clear();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}

/** Attach the board-link endpoint to an existing HTTP(S) server. */
export function attachBoardLink(server: HttpServer | HttpsServer, options: BoardLinkOptions): BoardLink {
  return new BoardLink(server, options);
}
