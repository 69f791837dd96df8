import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { hostname, networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import { BoardcastError, Emitter } from '@boardcast/core';
import {
  AddressCounter,
  type AllowedHosts,
  checkHost,
  createHostCheck,
  createProxyTrust,
  type HostCheck,
  type HostEnvironment,
  type ProxyTrust,
  refuseUpgrade,
  registerUpgrade,
  type TrustProxy,
} from '@boardcast/core/server';
import { WebSocketServer } from 'ws';
import { BoardConnection, type ConnectionOptions } from './connection.js';
import { BOARD_PROTOCOL, type HelloFrame } from './frames.js';
import { RemoteBoard } from './remote-board.js';

/**
 * One agent credential. `boards` limits which board ids a connection made
 * with this token may claim in its hello (one id or a list); without it the
 * token is shared and may claim any id.
 */
export interface BoardCredential {
  readonly token: string;
  readonly boards?: string | readonly string[] | undefined;
}

/**
 * A custom token check: `false` refuses the upgrade (401), `true` accepts a
 * shared credential (any board id), a list of ids accepts a credential bound
 * to those boards.
 */
export type BoardTokenCheck = (
  token: string | undefined,
  request: IncomingMessage,
) => boolean | readonly string[] | Promise<boolean | readonly string[]>;

export interface BoardLinkOptions {
  /**
   * Who may connect, sent as `Authorization: Bearer <token>` (or `?token=`):
   * one shared secret, a list of credentials bound to board ids, or a check
   * function (see `BoardTokenCheck`). A wrong token → HTTP 401 `unauthorized`;
   * a hello for an id the credential is not bound to → error frame
   * `forbidden` and close 1008.
   */
  readonly token: string | readonly BoardCredential[] | BoardTokenCheck;
  /**
   * URL path of the endpoint (default `/board`). It is registered in the
   * server's upgrade registry (core's `registerUpgrade`), which routes other
   * paths to their endpoints and answers upgrades nobody serves with 404.
   */
  readonly path?: string;
  /**
   * Extra `Host` names agents may use besides IP literals, `localhost` and
   * this machine's hostname / `<hostname>.local` (core's `AllowedHosts`, the
   * same check as the SSE and WebSocket endpoints). Other names → HTTP 403
   * `forbidden_host`.
   */
  readonly allowedHosts?: AllowedHosts;
  /**
   * Reverse proxies whose `X-Forwarded-*` headers are believed (core's
   * `TrustProxy`, as in every endpoint): behind them the per-address cap,
   * the Host check and `remoteAddress` in events use the forwarded client.
   * Default: none.
   */
  readonly trustProxy?: TrustProxy;
  /** Server → board ping period; also sent to the agent in `welcome` (default 5000 ms). */
  readonly heartbeatMs?: number;
  /** A board silent for this many heartbeat periods is cut off and marked offline (default 2). */
  readonly missedHeartbeats?: number;
  /** How long a write/read/mode may take to be answered; the request's deadline (default 5000 ms). */
  readonly requestTimeoutMs?: number;
  /** A socket must say hello within this time (default 10000 ms). */
  readonly helloTimeoutMs?: number;
  /** Largest frame accepted from a board, in bytes (default 16384); larger → close 1009 (`payload_too_large`). */
  readonly maxPayload?: number;
  /**
   * Board sockets at once, hello or not (default 64); more → HTTP 503
   * `too_many_clients`. The same option name as every other endpoint (core's
   * `EndpointPolicyOptions`).
   */
  readonly maxClients?: number;
  /** Board sockets from one remote address (default: no cap); more → HTTP 503 `too_many_clients`. */
  readonly maxClientsPerAddress?: number;
  /** @deprecated Use `maxClients`. */
  readonly maxConnections?: number;
  /**
   * Boards known at once (default 64): online, plus offline ones still
   * retained. A hello for a new id beyond it first evicts the oldest offline
   * board the app never asked for, else is refused with `too_many_clients`
   * (error frame, close 1013). Boards created by `link.board(id)` always stay.
   */
  readonly maxBoards?: number;
  /** Pins a hello may announce (default 64); more → `payload_too_large`, close 1009. */
  readonly maxPinsPerBoard?: number;
  /** Sensors a hello may announce (default 32); more → `payload_too_large`. Readings for others → `unsupported`. */
  readonly maxSensorsPerBoard?: number;
  /**
   * How long a board that left is remembered (firmware, last readings) before
   * it is forgotten and `forget` is emitted (default 600000 ms, at most
   * 2147483647, about 24.8 days: a timer's limit; more throws `RangeError`).
   * Boards from `link.board(id)` are never forgotten.
   */
  readonly retentionMs?: number;
  /** Malformed frames tolerated per connection before it is closed with 1008 (default 20). */
  readonly maxBadFrames?: number;
  /** Frames per second a board may send, sustained / burst (default 100 / 200). Excess frames are dropped with a `too_many_requests` error frame; a board still over the rate a second later is closed with 1013. */
  readonly frameRate?: { readonly perSecond: number; readonly burst: number };
  /** Requests in flight to one board (default 8) and waiting behind them (default 64); beyond → `too_many_requests`. */
  readonly maxInFlight?: number;
  readonly maxQueuedRequests?: number;
  /** Send-buffer bytes per board above which pongs and error frames are skipped (default 65536). */
  readonly maxBufferedBytes?: number;
  /**
   * A request's wire `deadline` is this much (at most a quarter of the time
   * left) before the server's own, so a request the board executes is
   * answered before the server answers `timeout` (default 250 ms).
   */
  readonly deadlineMarginMs?: number;
  /**
   * How long `close()` waits for each board's close frame before cutting its
   * socket, so `close()` resolves within about this time whatever the boards
   * do (default 1000 ms; core's `closeTimeoutMs`, shorter than other
   * endpoints' 5 s so a demo with a board attached exits within 2 s).
   */
  readonly closeTimeoutMs?: number;
  /** @deprecated Use `closeTimeoutMs`. */
  readonly closeGraceMs?: number;
}

/** Why and whom the link refused (for a log line). */
export interface BoardRejection {
  readonly error: BoardcastError;
  /** The board id the agent claimed, when it got as far as hello. */
  readonly boardId?: string | undefined;
  readonly remoteAddress?: string | undefined;
}

export type BoardLinkEvents = {
  /**
   * An agent said hello and was accepted (first time or again). The board's
   * `firmware` and `capabilities` are already this hello's; it turns
   * `online` later, once modes, watches and the snapshot are restored.
   */
  connect: (board: RemoteBoard) => void;
  disconnect: (board: RemoteBoard, reason: string) => void;
  /**
   * The link forgot a board that had left: `retentionMs` after it
   * disconnected, or earlier when a new id needed its place under
   * `maxBoards`. The link keeps nothing of it any more (not in `boards`, no
   * timer, readings and levels dropped); whatever the app keeps for it (a
   * hub channel and directory entry, listeners on the board) is the app's to
   * let go here. The same id saying hello later is a new `RemoteBoard`, with
   * a new `connect`. Boards from `link.board(id)` are never forgotten.
   */
  forget: (board: RemoteBoard) => void;
  /**
   * An agent refused: bad token (`unauthorized`), a board id its credential
   * is not bound to (`forbidden`), an id a live agent already holds
   * (`board_conflict`), a bound (`too_many_clients`, `payload_too_large`).
   */
  reject: (rejection: BoardRejection) => void;
  /** A failure nobody else sees (a token check that threw, a failed upgrade). */
  error: (error: unknown, where: string) => void;
};

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

interface Credential {
  readonly digest: Buffer;
  readonly boards: ReadonlySet<string> | undefined;
}

/**
 * The board-link endpoint. It listens to the server's `upgrade` event for its
 * own path only, so a browser WebSocket endpoint (`/api/ws`) can share the
 * same `http.Server`.
 */
export class BoardLink extends Emitter<BoardLinkEvents> {
  readonly path: string;
  readonly #options: BoardLinkOptions;
  readonly #conn: ConnectionOptions;
  readonly #wss: WebSocketServer;
  readonly #boards = new Map<string, RemoteBoard>();
  /** Boards the app asked for by `board(id)`: never evicted or forgotten. */
  readonly #pinned = new Set<string>();
  /** Offline, unpinned boards → when they left (monotonic order = Map order). */
  readonly #retired = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #sockets = new Set<BoardConnection>();
  readonly #hosts: HostCheck;
  readonly #proxy: ProxyTrust;
  readonly #maxClients: number;
  readonly #perAddress: AddressCounter;
  readonly #unregister: () => void;
  readonly #credentials: readonly Credential[] | undefined;
  readonly #maxBoards: number;
  readonly #maxPins: number;
  readonly #maxSensors: number;
  readonly #retentionMs: number;
  #closed: Promise<void> | undefined;

  constructor(server: HttpServer | HttpsServer, options: BoardLinkOptions) {
    super();
    this.#credentials = credentials(options.token);
    this.path = options.path ?? '/board';
    this.#options = options;
    this.#hosts = createHostCheck(options.allowedHosts, hostEnvironment());
    this.#proxy = createProxyTrust(options.trustProxy);
    const heartbeatMs = positive('heartbeatMs', options.heartbeatMs, 5000);
    this.#conn = {
      heartbeatMs,
      missedHeartbeats: positive('missedHeartbeats', options.missedHeartbeats, 2),
      requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 5000),
      helloTimeoutMs: positive('helloTimeoutMs', options.helloTimeoutMs, 10_000),
      maxBadFrames: positive('maxBadFrames', options.maxBadFrames, 20, 0),
      maxInFlight: positive('maxInFlight', options.maxInFlight, 8),
      maxQueuedRequests: positive('maxQueuedRequests', options.maxQueuedRequests, 64, 0),
      maxBufferedBytes: positive('maxBufferedBytes', options.maxBufferedBytes, 65_536),
      frameRate: {
        perSecond: positive('frameRate.perSecond', options.frameRate?.perSecond, 100),
        burst: positive('frameRate.burst', options.frameRate?.burst, 200),
      },
      closeGraceMs: positive('closeTimeoutMs', options.closeTimeoutMs ?? options.closeGraceMs, 1000),
      deadlineMarginMs: positive('deadlineMarginMs', options.deadlineMarginMs, 250, 0),
    };
    this.#maxClients = positive('maxClients', options.maxClients ?? options.maxConnections, 64, 0);
    this.#perAddress = new AddressCounter(
      options.maxClientsPerAddress === undefined
        ? Number.POSITIVE_INFINITY
        : positive('maxClientsPerAddress', options.maxClientsPerAddress, 1),
    );
    this.#maxBoards = positive('maxBoards', options.maxBoards, 64);
    this.#maxPins = positive('maxPinsPerBoard', options.maxPinsPerBoard, 64, 0);
    this.#maxSensors = positive('maxSensorsPerBoard', options.maxSensorsPerBoard, 32, 0);
    this.#retentionMs = positive('retentionMs', options.retentionMs, 600_000, 0, MAX_TIMER_MS);
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: positive('maxPayload', options.maxPayload, 16_384),
      perMessageDeflate: false,
      // Checked by the connection, which answers a bad frame with an error
      // frame (as documented) instead of ws's bare close 1007.
      skipUTF8Validation: true,
      handleProtocols: (protocols) => (protocols.has(BOARD_PROTOCOL) ? BOARD_PROTOCOL : false),
    });
    this.#unregister = registerUpgrade<IncomingMessage, Duplex, Buffer>(server, {
      path: this.path,
      handle: (request, socket, head) => this.#onUpgrade(request, socket, head),
    });
  }

  /** The board with this id, created (offline) if no agent has connected yet. It is kept for the link's life. */
  board(id: string): RemoteBoard {
    this.#pinned.add(id);
    this.#unretire(id);
    return this.#board(id);
  }

  get boards(): readonly RemoteBoard[] {
    return [...this.#boards.values()];
  }

  get connectionCount(): number {
    return this.#sockets.size;
  }

  #board(id: string): RemoteBoard {
    let board = this.#boards.get(id);
    if (!board) {
      board = new RemoteBoard(id);
      this.#boards.set(id, board);
    }
    return board;
  }

  #unretire(id: string): void {
    const timer = this.#retired.get(id);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#retired.delete(id);
  }

  /** An unpinned board left: forget it after `retentionMs`. */
  #retire(board: RemoteBoard): void {
    if (this.#pinned.has(board.id) || this.#closed) return;
    this.#unretire(board.id);
    const timer = setTimeout(() => this.#forget(board.id), this.#retentionMs);
    timer.unref();
    this.#retired.set(board.id, timer);
  }

  #forget(id: string): void {
    this.#unretire(id);
    const board = this.#boards.get(id);
    if (!board || this.#pinned.has(id) || board.connection) return;
    this.#boards.delete(id);
    board.clear();
    this.emit('forget', board);
  }

  /** An upgrade for our path (the registry routed it here). */
  #onUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
    void this.#accept(request, socket, head, query).catch((error) => {
      this.emit('error', error, 'upgrade');
      socket.destroy();
    });
  }

  async #accept(request: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams): Promise<void> {
    // The peer, or with trustProxy the client (and the host it used) behind the proxy.
    const client = this.#proxy.resolve(
      {
        remoteAddress: request.socket.remoteAddress,
        encrypted: (request.socket as { encrypted?: boolean }).encrypted === true,
      },
      (name) => headerValue(request, name),
    );
    const remoteAddress = client.clientAddress;
    const reject = (error: BoardcastError) => {
      this.emit('reject', { error, remoteAddress });
      refuseUpgrade(socket, error);
    };
    if (this.#closed) return reject(new BoardcastError('too_many_clients', 'board link is closed'));
    const hostError = checkHost(this.#hosts, { header: (name) => headerValue(request, name), host: client.host });
    if (hostError) return reject(hostError);
    const offered = (request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    if (!offered.includes(BOARD_PROTOCOL)) {
      return reject(new BoardcastError('invalid_payload', `subprotocol ${BOARD_PROTOCOL} is required`));
    }
    const auth = request.headers.authorization;
    // The scheme is case-insensitive (RFC 9110 §11.1): "bearer x" is the same credential.
    const bearer = auth === undefined ? null : /^bearer[ \t]+(.*)$/i.exec(auth);
    const token = bearer ? (bearer[1] as string).trim() : (query.get('token') ?? undefined);
    const allowed = await this.#authorize(token, request);
    if (allowed === false) return reject(new BoardcastError('unauthorized', 'bad or missing board token'));
    if (this.#closed) return reject(new BoardcastError('too_many_clients', 'board link is closed'));
    if (this.#sockets.size >= this.#maxClients) {
      return reject(new BoardcastError('too_many_clients', 'too many board connections'));
    }
    if (!this.#perAddress.acquire(remoteAddress)) {
      return reject(new BoardcastError('too_many_clients', 'too many board connections from this address'));
    }
    // The slot is released when the connection closes, or at once when the
    // handshake fails before ws hands us a socket.
    let handedOver = false;
    socket.once('close', () => {
      if (!handedOver) this.#perAddress.release(remoteAddress);
    });
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      handedOver = true;
      const conn = new BoardConnection(
        ws,
        this.#conn,
        {
          hello: (c, hello) => this.#onHello(c, hello),
          frame: (c, frame) => (c.boardId === undefined ? undefined : this.#boards.get(c.boardId)?.frame(frame)),
          expired: (c, body) => this.#boardOf(c)?.expired(c, body),
          late: (c, body, value) => this.#boardOf(c)?.late(c, body, value),
          close: (c, reason) => {
            if (this.#sockets.delete(c)) this.#perAddress.release(c.remoteAddress);
            const board = this.#boardOf(c);
            if (!board) return;
            board.detach(c);
            this.emit('disconnect', board, reason);
            this.#retire(board);
          },
        },
        remoteAddress,
        allowed === true ? undefined : allowed,
      );
      this.#sockets.add(conn);
      if (this.#closed) void conn.shutdown(1001, 'board link closed');
    });
  }

  #boardOf(conn: BoardConnection): RemoteBoard | undefined {
    if (conn.boardId === undefined) return undefined;
    const board = this.#boards.get(conn.boardId);
    return board?.connection === conn ? board : undefined;
  }

  /** false: refuse; true: any board id; a set: only those ids. */
  async #authorize(token: string | undefined, request: IncomingMessage): Promise<boolean | ReadonlySet<string>> {
    const check = this.#options.token;
    if (typeof check === 'function') {
      try {
        const result = await check(token, request);
        if (result === true) return true;
        if (Array.isArray(result)) return new Set(result as readonly string[]);
        return false;
      } catch (error) {
        this.emit('error', error, 'token check');
        return false;
      }
    }
    if (token === undefined) return false;
    const presented = digest(token);
    let match: Credential | undefined;
    // Compare with every credential so timing does not tell which one matched.
    for (const credential of this.#credentials ?? []) {
      if (timingSafeEqual(presented, credential.digest) && !match) match = credential;
    }
    if (!match) return false;
    return match.boards ?? true;
  }

  /** Decide whether this hello may take its id; undefined accepts (and attaches). */
  #onHello(conn: BoardConnection, hello: HelloFrame): BoardcastError | undefined {
    const refuse = (error: BoardcastError) => {
      this.emit('reject', { error, boardId: hello.id, remoteAddress: conn.remoteAddress });
      return error;
    };
    if (conn.allowedBoards && !conn.allowedBoards.has(hello.id)) {
      return refuse(new BoardcastError('forbidden', `this token may not claim board "${hello.id}"`));
    }
    if (hello.pins.length > this.#maxPins) {
      return refuse(
        new BoardcastError('payload_too_large', `hello announces ${hello.pins.length} pins (limit ${this.#maxPins})`),
      );
    }
    if (hello.sensors.length > this.#maxSensors) {
      return refuse(
        new BoardcastError(
          'payload_too_large',
          `hello announces ${hello.sensors.length} sensors (limit ${this.#maxSensors})`,
        ),
      );
    }
    const existing = this.#boards.get(hello.id);
    const live = existing?.connection;
    if (live && !live.closed) {
      // A board rebooted behind a half-open socket has stopped beating; a
      // second agent with the same id has not. Only the first may be
      // replaced: a live agent answers a ping every period, so silence of
      // 1.5 periods means it missed a heartbeat.
      if (live.silentMs < this.#conn.heartbeatMs * 1.5) {
        return refuse(
          new BoardcastError(
            'board_conflict',
            `board "${hello.id}" is already connected from ${live.remoteAddress ?? 'another address'} and alive`,
          ),
        );
      }
    }
    if (!existing && this.#boards.size >= this.#maxBoards && !this.#evictOne()) {
      return refuse(new BoardcastError('too_many_clients', `too many boards (limit ${this.#maxBoards})`));
    }
    this.#unretire(hello.id);
    const board = this.#board(hello.id);
    // attach() applies the hello (firmware, capabilities) before its first
    // await: 'connect' listeners see this hello's data, not the last one's.
    const attached = board.attach(conn, hello);
    this.emit('connect', board);
    void attached;
    return undefined;
  }

  /** Drop the board that left longest ago (never a pinned or connected one). */
  #evictOne(): boolean {
    for (const id of this.#retired.keys()) {
      this.#forget(id);
      if (!this.#boards.has(id)) return true;
    }
    return false;
  }

  /**
   * Stop accepting board sockets, close every one with a close frame (1001)
   * and resolve once all are gone: a board that does not answer the close
   * handshake is cut off after `closeTimeoutMs`. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      // Upgrades to our path are answered 404 by the registry from now on.
      this.#unregister();
      for (const timer of this.#retired.values()) clearTimeout(timer);
      this.#retired.clear();
      await Promise.all([...this.#sockets].map((conn) => conn.shutdown(1001, 'server shutting down')));
      this.#sockets.clear();
      await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    })();
    return this.#closed;
  }
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** This machine's names for core's `Host` check (core has no Node APIs). */
function hostEnvironment(): HostEnvironment {
  try {
    return { hostname: hostname(), interfaces: networkInterfaces() };
  } catch {
    return {}; // some sandboxes refuse os queries; IP literals and localhost still pass
  }
}

/**
 * The longest delay `setTimeout` keeps (2^31 - 1 ms, about 24.8 days): Node
 * runs a longer one after 1 ms, so a retentionMs of 30 days would forget a
 * board at once.
 */
const MAX_TIMER_MS = 2_147_483_647;

function positive(name: string, value: number | undefined, fallback: number, min = 1, max = Infinity): number {
  if (value === undefined) return fallback;
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max)) {
    const range = max === Infinity ? `>= ${min}` : `from ${min} to ${max}`;
    throw new RangeError(`BoardLink: ${name} must be a number ${range} (got ${String(value)})`);
  }
  return value;
}

function credentials(token: BoardLinkOptions['token']): readonly Credential[] | undefined {
  if (typeof token === 'function') return undefined;
  const list: readonly BoardCredential[] = typeof token === 'string' ? [{ token }] : token;
  if (!Array.isArray(list) || list.length === 0) throw new TypeError('BoardLink: token must not be empty');
  return list.map((credential) => {
    if (typeof credential?.token !== 'string' || credential.token.length === 0) {
      throw new TypeError('BoardLink: every credential needs a non-empty token');
    }
    const boards = credential.boards;
    return {
      digest: digest(credential.token),
      boards: boards === undefined ? undefined : new Set(typeof boards === 'string' ? [boards] : boards),
    };
  });
}

/** Attach the board-link endpoint to an existing HTTP(S) server. */
export function attachBoardLink(server: HttpServer | HttpsServer, options: BoardLinkOptions): BoardLink {
  return new BoardLink(server, options);
}
