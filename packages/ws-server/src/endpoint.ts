import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { BoardcastError, type ContractSpec, Emitter, type EncodedEvent, type Hub, WS_PROTOCOL } from '@boardcast/core';
import { type WebSocket, WebSocketServer } from 'ws';
import { Connection } from './connection.js';
import { encodeTextFrame } from './frame.js';
import { type ResolvedOptions, resolveOptions, type WsEndpointOptions } from './options.js';
import { isOriginAllowed } from './origin.js';
import { type ConnectQuery, parseConnectQuery } from './query.js';
import { rejectUpgrade } from './reject.js';
import { fromUpgrade } from './request.js';
import type { ConnectionHost, HubLike, WsClientInfo, WsDisconnectReason, WsEndpointEvents } from './types.js';

type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
interface UpgradeSource {
  on(event: 'upgrade', listener: UpgradeListener): unknown;
  off(event: 'upgrade', listener: UpgradeListener): unknown;
}

function offersProtocol(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(',').some((token) => token.trim() === WS_PROTOCOL);
}

/**
 * A hub's WebSocket endpoint. It shares an existing HTTP server (and port)
 * with the page, SSE and commands, and only takes upgrades for its own path.
 */
export class WsEndpoint extends Emitter<WsEndpointEvents> {
  readonly path: string;
  readonly #hub: HubLike;
  readonly #options: ResolvedOptions;
  readonly #wss: WebSocketServer;
  readonly #server: UpgradeSource | undefined;
  readonly #connections = new Set<Connection>();
  readonly #host: ConnectionHost;
  readonly #heartbeat: ReturnType<typeof setInterval> | undefined;
  readonly #offHubClose: () => void;
  #pending = 0;
  #nextId = 0;
  #closing: Promise<void> | undefined;
  // One-slot cache: a publish visits every socket with the same event in a
  // row, so this encodes each event once without holding on to history.
  #lastEvent: EncodedEvent | undefined;
  #lastFrame: Buffer | undefined;

  constructor(hub: HubLike, options: WsEndpointOptions = {}) {
    super();
    this.#hub = hub;
    const resolved = resolveOptions(options);
    this.#options = resolved;
    this.path = resolved.path;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: resolved.maxPayload,
      perMessageDeflate: resolved.perMessageDeflate,
      // Already checked before the upgrade; this only echoes the choice.
      handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    });
    this.#host = {
      hub,
      maxPayload: resolved.maxPayload,
      maxInFlight: resolved.maxInFlight,
      highWaterMark: resolved.highWaterMark,
      backpressure: resolved.backpressure,
      closeTimeoutMs: resolved.closeTimeoutMs,
      frameFor: (event) => this.#frameFor(event),
      report: (event, ...args) => this.emit(event, ...args),
    };
    if (resolved.heartbeatMs > 0) {
      this.#heartbeat = setInterval(() => {
        for (const connection of this.#connections) connection.beat();
      }, resolved.heartbeatMs);
      this.#heartbeat.unref();
    }
    this.#offHubClose = hub.on('close', () => void this.close());
    if (options.server) {
      this.#server = options.server as UpgradeSource;
      this.#server.on('upgrade', this.#onUpgrade);
    }
  }

  /** Sockets currently connected. */
  get clientCount(): number {
    return this.#connections.size;
  }

  /** A view of every connected socket. */
  clients(): WsClientInfo[] {
    return [...this.#connections].map((connection) => connection.info);
  }

  /**
   * Take an HTTP upgrade if it is for this endpoint's path. Returns false
   * (touching nothing) for any other path, so several upgrade handlers can
   * share one server. Use it when you route upgrades yourself instead of
   * passing `server`.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://localhost');
    } catch {
      return false;
    }
    if (url.pathname !== this.path) return false;
    void this.#upgrade(request, socket, head, url);
    return true;
  }

  readonly #onUpgrade: UpgradeListener = (request, socket, head) => {
    this.handleUpgrade(request, socket, head);
  };

  async #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const options = this.#options;
    const origin = request.headers.origin;
    const refuse = (status: number, error: BoardcastError) => {
      this.emit('reject', {
        status,
        code: error.code,
        message: error.message,
        remoteAddress: request.socket.remoteAddress,
        origin,
      });
      rejectUpgrade(socket, status, error);
    };

    if (this.#closing) return refuse(503, new BoardcastError('closed', 'server is shutting down'));
    if (origin === undefined ? !options.allowMissingOrigin : !isOriginAllowed(options.origins, origin, request)) {
      const message = origin === undefined ? 'an Origin header is required' : `origin ${origin} is not allowed`;
      return refuse(403, new BoardcastError('forbidden_origin', message));
    }
    if (!offersProtocol(request.headers['sec-websocket-protocol'])) {
      return refuse(
        400,
        new BoardcastError(
          'unsupported',
          `WebSocket subprotocol "${WS_PROTOCOL}" is required (Sec-WebSocket-Protocol)`,
        ),
      );
    }
    let query: ConnectQuery;
    try {
      query = parseConnectQuery(url.searchParams, this.#hub.contract.events);
    } catch (error) {
      return refuse(400, error as BoardcastError);
    }
    if (this.#connections.size + this.#pending >= options.maxClients) {
      return refuse(503, new BoardcastError('too_many_clients', `at most ${options.maxClients} clients`));
    }

    // Hold the slot while authorize runs so a burst cannot overshoot maxClients.
    this.#pending++;
    const onSocketError = () => socket.destroy();
    socket.on('error', onSocketError);
    let auth: unknown;
    try {
      if (options.authorize) {
        auth = await options.authorize(fromUpgrade(request, url));
        if (auth === false) throw new BoardcastError('unauthorized', 'not authorized');
      }
    } catch (error) {
      this.#pending--;
      socket.off('error', onSocketError);
      if (error instanceof BoardcastError) return refuse(error.status, error);
      this.emit('error', error, undefined);
      return refuse(500, new BoardcastError('handler_failed', 'authorization failed'));
    }
    socket.off('error', onSocketError);
    if (socket.destroyed) {
      this.#pending--;
      return;
    }
    if (this.#closing) {
      this.#pending--;
      return refuse(503, new BoardcastError('closed', 'server is shutting down'));
    }
    try {
      // Synchronous: the callback has run (or the handshake was refused by
      // ws with 400) by the time this returns.
      this.#wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws, request, origin, auth, query));
    } catch (error) {
      this.emit('error', error, undefined);
      socket.destroy();
    } finally {
      this.#pending--;
    }
  }

  #accept(socket: WebSocket, request: IncomingMessage, origin: string | undefined, auth: unknown, query: ConnectQuery) {
    const info: WsClientInfo = {
      id: `ws-${++this.#nextId}`,
      remoteAddress: request.socket.remoteAddress,
      origin,
      auth,
      lastEventId: query.lastEventId,
      events: query.events,
      connectedAt: Date.now(),
    };
    const connection = new Connection(this.#host, socket, info, this.#closed);
    this.#connections.add(connection);
    this.emit('connect', info);
    connection.start(true);
  }

  readonly #closed = (connection: Connection, reason: WsDisconnectReason): void => {
    if (!this.#connections.delete(connection)) return;
    this.emit('disconnect', connection.info, reason);
  };

  #frameFor(event: EncodedEvent): Buffer {
    if (event !== this.#lastEvent || this.#lastFrame === undefined) {
      this.#lastFrame = encodeTextFrame(event.ws);
      this.#lastEvent = event;
    }
    return this.#lastFrame;
  }

  /**
   * Stop taking upgrades, close every socket with 1001 (terminating those
   * that do not finish closing within `closeTimeoutMs`), and remove every
   * listener and timer this endpoint installed. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#server?.off('upgrade', this.#onUpgrade);
    clearInterval(this.#heartbeat);
    this.#offHubClose();
    const connections = [...this.#connections];
    for (const connection of connections) connection.close(1001, 'server shutting down', 'shutdown');
    this.#closing = Promise.all(connections.map((connection) => connection.done)).then(
      () =>
        new Promise<void>((resolve) => {
          this.#lastEvent = undefined;
          this.#lastFrame = undefined;
          this.#wss.close(() => resolve());
        }),
    );
    return this.#closing;
  }
}

/** Build a WebSocket endpoint for a hub. */
export function createWsEndpoint<C extends ContractSpec>(hub: Hub<C>, options: WsEndpointOptions = {}): WsEndpoint {
  return new WsEndpoint(hub, options);
}
