import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { BoardcastError, type ContractSpec, DEFAULT_CHANNEL, Emitter, type Hub } from '@boardcast/core';
import {
  AddressCounter,
  authorizeRequest,
  checkRequest,
  fromNodeRequest,
  registerUpgrade,
} from '@boardcast/core/server';
import { credentialExpiry, type WireFrame, WS_PROTOCOL } from '@boardcast/core/wire';
import { type WebSocket, WebSocketServer } from 'ws';
import { Connection } from './connection.js';
import { encodeTextFrame } from './frame.js';
import { type ResolvedOptions, resolveOptions, type WsEndpointOptions } from './options.js';
import { type ConnectQuery, parseConnectQuery } from './query.js';
import { refuseInBand } from './refuse-in-band.js';
import { rejectUpgrade } from './reject.js';
import type { ConnectionHost, HubLike, WsClientInfo, WsDisconnectReason, WsEndpointEvents } from './types.js';

/**
 * How many refusals may be told inside a socket at once, at the least; the
 * bound is `maxClients` when that is larger. Each lives a round trip (or
 * `closeTimeoutMs` for a peer that never closes), so this caps what a burst
 * of refused browsers holds, as `maxClients` caps what accepted ones hold.
 */
const MIN_IN_BAND_REFUSALS = 64;

/**
 * How many refusals one client address may hold inside sockets at once: a
 * peer that opens refused upgrades and never closes them cannot take every
 * place above and push every other refused browser onto HTTP. Past it, that
 * address gets the HTTP answer. The address is the client's as `trustProxy`
 * resolves it: behind a proxy that is not trusted, everyone behind it shares
 * these 8. A shutdown's refusals are not held to it (see `close()`).
 */
const IN_BAND_REFUSALS_PER_ADDRESS = 8;

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
  /** The options after defaults, as every check uses them. */
  readonly options: ResolvedOptions;
  readonly #hub: HubLike;
  readonly #wss: WebSocketServer;
  readonly #unregister: (() => void) | undefined;
  readonly #connections = new Set<Connection>();
  readonly #perAddress: AddressCounter;
  /**
   * Upgrade sockets between our first look and the handshake (authorize may
   * be slow), each with how to refuse it at shutdown (close() refuses them all).
   */
  readonly #pendingSockets = new Map<Duplex, () => void>();
  /**
   * Refusals being told inside a socket right now (refuse-in-band.ts), each
   * settling when its socket is gone, in all and per address; close() waits
   * for them.
   */
  readonly #refusing = new Set<Promise<void>>();
  readonly #refusingPerAddress = new AddressCounter(IN_BAND_REFUSALS_PER_ADDRESS);
  /**
   * Set once close() has waited for the connections and the refusals told
   * inside sockets: no new refusal is told inside a socket after it (each is
   * an HTTP answer), so the wait it ends cannot grow; `#wss`, closed next,
   * would answer a handshake with a bare 503 itself anyway.
   */
  #inBandOver = false;
  readonly #host: ConnectionHost;
  readonly #heartbeat: ReturnType<typeof setInterval> | undefined;
  readonly #offHubClose: () => void;
  #nextId = 0;
  #closing: Promise<void> | undefined;
  // One-slot cache: a publish visits every socket with the same event in a
  // row, so this encodes each event once without holding on to history.
  #lastEvent: WireFrame | undefined;
  #lastFrame: Buffer | undefined;

  constructor(hub: HubLike, options: WsEndpointOptions = {}) {
    super();
    this.#hub = hub;
    const resolved = resolveOptions(options);
    this.options = resolved;
    this.path = resolved.path;
    const { policy } = resolved;
    // First, so a refused registration (same path twice) leaves nothing behind.
    this.#unregister = options.server
      ? registerUpgrade(options.server, {
          path: this.path,
          handle: (request, socket, head) => {
            this.handleUpgrade(request, socket, head);
          },
        })
      : undefined;
    this.#perAddress = new AddressCounter(policy.maxClientsPerAddress);
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
      channelsPerSecond: resolved.channelsPerSecond,
      channelBurst: resolved.channelBurst,
      highWaterMark: policy.highWaterMark,
      slowClient: policy.slowClient,
      closeTimeoutMs: policy.closeTimeoutMs,
      frameFor: (event) => this.#frameFor(event),
      report: (event, ...args) => this.emit(event, ...args),
      error: (error, where) => this.#hub.emit('error', error, `ws-server ${where}`),
    };
    if (resolved.keepAliveMs > 0) {
      this.#heartbeat = setInterval(() => {
        for (const connection of this.#connections) connection.beat();
      }, resolved.keepAliveMs);
      this.#heartbeat.unref();
    }
    this.#offHubClose = hub.on('close', () => void this.close());
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
   * passing `server` — then answering upgrades nobody takes is yours to do
   * (or register your router with core's `registerUpgrade`).
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

  async #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const { policy } = this.options;
    const origin = request.headers.origin;
    const info = fromNodeRequest(request, policy.proxy, url);
    const address = info.clientAddress; // the peer, or with trustProxy the client behind the proxy
    const offered = offersProtocol(request.headers['sec-websocket-protocol']);
    /**
     * Refuses the upgrade once (a later refusal, say of an authorize that
     * settles after a shutdown refused it, does nothing): reported through
     * `reject`, then told inside a socket for a browser while the bounds
     * allow, else over HTTP. `perAddress: false` skips the per-address bound
     * (a shutdown's refusals), never the overall one.
     */
    let answered = false;
    const refuse = (
      error: BoardcastError,
      status = error.status,
      headers?: Record<string, string>,
      perAddress = true,
    ) => {
      if (answered) return;
      answered = true;
      this.emit('reject', {
        status,
        code: error.code,
        message: error.message,
        remoteAddress: address,
        origin,
      });
      // Refusals told inside a socket are bounded on their own (a full server
      // refuses at its busiest) and per address: past a bound, the HTTP answer.
      if (
        !this.#inBandOver &&
        this.#refusing.size < Math.max(MIN_IN_BAND_REFUSALS, policy.maxClients) &&
        (!perAddress || this.#refusingPerAddress.acquire(address))
      ) {
        let gone!: () => void;
        const refusal = new Promise<void>((resolve) => {
          gone = resolve;
        });
        this.#refusing.add(refusal);
        const done = () => {
          this.#refusing.delete(refusal);
          if (perAddress) this.#refusingPerAddress.release(address);
          gone();
        };
        if (refuseInBand(this.#wss, request, socket, head, error, offered, policy.closeTimeoutMs, done)) return;
        done();
      }
      rejectUpgrade(socket, status, error, headers);
    };

    if (this.#closing) return refuse(new BoardcastError('closed', 'server is shutting down'), 503);
    const refused = checkRequest(policy, info);
    if (refused) return refuse(refused);
    if (!offered) {
      return refuse(
        new BoardcastError(
          'unsupported',
          `WebSocket subprotocol "${WS_PROTOCOL}" is required (Sec-WebSocket-Protocol)`,
        ),
        400,
      );
    }
    let query: ConnectQuery;
    try {
      query = parseConnectQuery(url.searchParams, this.#hub.contract.events);
    } catch (error) {
      return refuse(error as BoardcastError, 400);
    }
    if (this.#connections.size + this.#pendingSockets.size >= policy.maxClients) {
      return refuse(new BoardcastError('too_many_clients', `at most ${policy.maxClients} clients`), 503);
    }
    if (!this.#perAddress.acquire(address)) {
      const error = new BoardcastError(
        'too_many_clients',
        `at most ${policy.maxClientsPerAddress} clients per address`,
      );
      return refuse(error, 503);
    }

    // Hold the slot while authorize runs so a burst cannot overshoot maxClients.
    this.#pendingSockets.set(socket, () =>
      refuse(new BoardcastError('closed', 'server is shutting down'), 503, undefined, false),
    );
    let accepted = false;
    const onSocketError = () => socket.destroy();
    socket.on('error', onSocketError);
    try {
      let auth: unknown;
      try {
        // The rule every endpoint applies (false, an expired credential, a thrown error).
        const outcome = await authorizeRequest(policy.authorize, info, (error) => this.#host.error(error, 'authorize'));
        if (!outcome.ok) return refuse(outcome.error);
        auth = outcome.auth;
        // A connection naming no channels is the default channel's stream: refused
        // now (told in-band to a browser) rather than opened and closed at once.
        if (!query.selection && !(await this.#seesDefault(auth))) {
          return refuse(new BoardcastError('forbidden', `channel "${DEFAULT_CHANNEL}" is not yours to see`));
        }
      } finally {
        socket.off('error', onSocketError);
      }
      // Destroyed, or already refused by a shutdown (close()).
      if (socket.destroyed || answered) return;
      if (this.#closing) return refuse(new BoardcastError('closed', 'server is shutting down'), 503);
      try {
        // Synchronous: the callback has run (or the handshake was refused by
        // ws with 400) by the time this returns.
        this.#wss.handleUpgrade(request, socket, head, (ws) => {
          accepted = true;
          this.#accept(ws, address, origin, auth, query);
        });
      } catch (error) {
        this.#host.error(error, 'handshake');
        socket.destroy();
      }
    } finally {
      this.#pendingSockets.delete(socket);
      if (!accepted) this.#perAddress.release(address);
    }
  }

  #accept(
    socket: WebSocket,
    address: string | undefined,
    origin: string | undefined,
    auth: unknown,
    query: ConnectQuery,
  ) {
    const info: WsClientInfo = {
      id: `ws-${++this.#nextId}`,
      remoteAddress: address,
      origin,
      auth,
      lastEventId: query.lastEventId,
      events: query.events,
      channels: query.selection?.channels.map((c) => (typeof c === 'string' ? c : c.channel)),
      connectedAt: Date.now(),
    };
    const connection = new Connection(this.#host, socket, info, this.#closed, query.selection);
    this.#connections.add(connection);
    this.emit('connect', info);
    connection.start(true);
    const expiresAt = credentialExpiry(auth);
    if (expiresAt !== undefined) connection.expireAt(expiresAt);
  }

  readonly #closed = (connection: Connection, reason: WsDisconnectReason): void => {
    if (!this.#connections.delete(connection)) return;
    this.#perAddress.release(connection.info.remoteAddress);
    this.emit('disconnect', connection.info, reason);
  };

  async #seesDefault(auth: unknown): Promise<boolean> {
    try {
      return (await this.#hub.access.canSee(auth, DEFAULT_CHANNEL)) === true;
    } catch (error) {
      this.#hub.emit('error', error, 'ws-server access.canSee');
      return false;
    }
  }

  #frameFor(event: WireFrame): Buffer {
    if (event !== this.#lastEvent || this.#lastFrame === undefined) {
      this.#lastFrame = encodeTextFrame(event.ws);
      this.#lastEvent = event;
    }
    return this.#lastFrame;
  }

  /**
   * Stop taking upgrades, refuse upgrades still waiting for `authorize`
   * (503 `closed`, reported through `reject`), close every socket with 1001,
   * wait for the sockets refusals are told inside (terminating those that
   * do not finish closing within `closeTimeoutMs`), and remove every
   * listener and timer this endpoint installed. Resolves within about
   * `closeTimeoutMs` whatever the peers do. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#unregister?.();
    clearInterval(this.#heartbeat);
    this.#offHubClose();
    // Upgrades still in `authorize` are refused now (a browser inside the
    // socket, close 1000) rather than when (if ever) the hook settles, so
    // nothing keeps the shutdown waiting. Not held to the per-address bound:
    // behind a proxy without trustProxy every browser shares one address.
    for (const refuseAtShutdown of this.#pendingSockets.values()) refuseAtShutdown();
    const connections = [...this.#connections];
    for (const connection of connections) connection.close(1001, 'server shutting down', 'shutdown');
    this.#closing = (async () => {
      await Promise.all(connections.map((connection) => connection.done));
      // Each refusal socket ends by itself within closeTimeoutMs (its
      // terminate timer); waited for rather than cut, so its envelope and
      // close frame still reach the peer.
      this.#inBandOver = true;
      await Promise.all(this.#refusing);
      this.#lastEvent = undefined;
      this.#lastFrame = undefined;
      await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    })();
    return this.#closing;
  }
}

/** Build a WebSocket endpoint for a hub. */
export function createWsEndpoint<C extends ContractSpec>(hub: Hub<C>, options: WsEndpointOptions = {}): WsEndpoint {
  return new WsEndpoint(hub, options);
}
