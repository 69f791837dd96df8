import type { Duplex } from 'node:stream';
import { BoardcastError, type HubConnection } from '@boardcast/core';
import {
  type ChannelSelection,
  type CommandId,
  type EncodedSnapshot,
  encodeWsError,
  encodeWsPong,
  encodeWsReset,
  encodeWsResultError,
  encodeWsResultOk,
  type HubSink,
  onExpiry,
  STATUS_EVENT,
  tryDecodeClientFrame,
  type WireFrame,
  type WsChannelRequest,
  type WsDirectoryQuery,
} from '@boardcast/core/wire';
import { type RawData, WebSocket } from 'ws';
import { closeReason, rawSocketOf } from './frame.js';
import { SubscribeBudget } from './subscribe-budget.js';
import type { ConnectionHost, WsClientInfo, WsDisconnectCause, WsDisconnectReason } from './types.js';

const OPEN = WebSocket.OPEN;

/** Close codes `ws` uses for receiver errors, by error code. */
const PROTOCOL_CLOSE_CODES: Record<string, number> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_INVALID_UTF8: 1007,
};

/** Resolves on the event loop's next check phase: sockets' pending reads and writes run first. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Closing {
  readonly code: number;
  readonly reason: string;
  readonly cause: WsDisconnectCause;
}

/** One client socket: its event stream, its commands, its liveness and its backpressure. */
export class Connection {
  readonly info: WsClientInfo;
  readonly socket: WebSocket;
  /** Resolves once the socket is closed and every listener is gone. */
  readonly done: Promise<void>;
  readonly #host: ConnectionHost;
  readonly #sink: HubSink;
  readonly #inflight = new Set<CommandId>();
  /** `?channels=` at connect: a channel connection, whose set lives as long as the socket. */
  readonly #selection: ChannelSelection | undefined;
  /** How fast this socket may name channels in `subscribe` frames (none when `channelsPerSecond` is 0). */
  readonly #budget: SubscribeBudget | undefined;
  #hub: HubConnection | undefined;
  /** The last `subscribe`/`unsubscribe` of this socket, done or not: the next one starts after it. */
  #changes: Promise<void> = Promise.resolve();
  /** Frames a lagging channel connection must still get: the newest status and every `forbidden`. */
  #held: WireFrame[] = [];
  #cancelExpiry: (() => void) | undefined;
  /** The credential's `expiresAt` (ms since the epoch) until the socket has been expired. */
  #expiresAt: number | undefined;
  #alive = true;
  #lagging = false;
  #readPaused = false;
  #closing: Closing | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    host: ConnectionHost,
    socket: WebSocket,
    info: WsClientInfo,
    onClosed: (connection: Connection, reason: WsDisconnectReason) => void,
    selection?: ChannelSelection,
  ) {
    this.#host = host;
    this.#selection = selection;
    this.#budget =
      host.channelsPerSecond > 0 ? new SubscribeBudget(host.channelsPerSecond, host.channelBurst) : undefined;
    this.socket = socket;
    this.info = info;
    this.#sink = this.#createSink(rawSocketOf(socket));
    this.done = new Promise<void>((resolve) => {
      socket.on('close', (code: number, reason: Buffer) => {
        clearTimeout(this.#closeTimer);
        this.#cancelExpiry?.();
        this.#stop();
        this.#inflight.clear();
        const closing = this.#closing;
        onClosed(
          this,
          closing
            ? { code: closing.code, reason: closing.reason, cause: closing.cause }
            : { code, reason: reason.toString(), cause: 'client' },
        );
        socket.removeAllListeners();
        // A late error from the dead socket must not become an uncaught exception.
        socket.on('error', () => undefined);
        resolve();
      });
    });
    socket.on('message', (data: RawData, isBinary: boolean) => this.#message(data, isBinary));
    socket.on('pong', () => {
      this.#alive = true;
    });
    socket.on('error', (error: Error & { code?: string }) => this.#error(error));
  }

  /** Start (or, for a connection naming no channels, restart after backpressure) the client's stream through the hub. */
  start(resume: boolean): void {
    if (this.#closing) return;
    const { lastEventId, events, auth } = this.info;
    const selection = this.#selection;
    // A channel connection carries its resume ids in `channels` (per channel, `fresh` ones without).
    const options = selection
      ? { channels: selection.channels, directory: selection.directory, events, principal: auth }
      : { lastEventId: resume ? lastEventId : undefined, events, principal: auth };
    const connection = this.#host.hub.connect(options, this.#sink);
    // The first writes happen inside connect(); they may already have closed us.
    if (this.#closing) connection.close();
    else this.#hub = connection;
  }

  /** End the socket at `expiresAt` (ms since the epoch): an `unauthorized` error, then close 1008. */
  expireAt(expiresAt: number): void {
    this.#cancelExpiry?.();
    this.#expiresAt = expiresAt;
    this.#cancelExpiry = onExpiry(expiresAt, () => this.#expire());
  }

  /**
   * True (and the socket expired) once `expiresAt` has passed. The timer runs
   * when the loop gets to it, which on a busy loop is after an event
   * published or a command received past `expiresAt`: those must not go
   * out or run, so every outgoing frame and incoming message asks first.
   */
  #expired(): boolean {
    if (this.#expiresAt === undefined || Date.now() < this.#expiresAt) return false;
    this.#expire();
    return true;
  }

  #expire(): void {
    if (this.#expiresAt === undefined) return;
    this.#expiresAt = undefined;
    this.#cancelExpiry?.();
    this.#send(encodeWsError(new BoardcastError('unauthorized', 'the credential has expired')));
    this.close(1008, 'credential expired', 'expired');
  }

  // ------------------------------------------------------------ events out

  #createSink(raw: Duplex | undefined): HubSink {
    const socket = this.socket;
    const host = this.#host;
    const highWaterMark = host.highWaterMark;
    // The hot path: per socket and event, one state check, one buffer check
    // and one write of bytes shared by every socket.
    const event = raw
      ? (e: WireFrame) => {
          if (socket.readyState !== OPEN || this.#expired()) return;
          if (this.#lagging) return this.#hold(e);
          if (socket.bufferedAmount > highWaterMark) return this.#overflow(e);
          raw.write(host.frameFor(e));
        }
      : (e: WireFrame) => {
          if (socket.readyState !== OPEN || this.#expired()) return;
          if (this.#lagging) return this.#hold(e);
          if (socket.bufferedAmount > highWaterMark) return this.#overflow(e);
          socket.send(e.ws);
        };
    return {
      event,
      snapshot: (snapshot: EncodedSnapshot) => this.#send(snapshot.ws),
      reset: (reason: string) => this.#send(encodeWsReset(reason)),
      // The viewer may no longer see the default channel of a connection naming none.
      end: (error: BoardcastError) => {
        this.#send(encodeWsError(error));
        this.close(error.closeCode, error.message, 'forbidden');
      },
    };
  }

  /**
   * A frame that reaches a lagging channel connection: skipped (the restart
   * sends every channel's state again), except what a restart cannot repeat
   * — the server's newest status and the `forbidden` of a channel the viewer
   * lost meanwhile (at most one per channel of the set).
   */
  #hold(frame: WireFrame): void {
    if (!this.#selection) return;
    if ((frame as { event?: string }).event === STATUS_EVENT) {
      this.#held = this.#held.filter((f) => (f as { event?: string }).event !== STATUS_EVENT);
      this.#held.push(frame);
    } else if (frame.id === '' && frame.ws.startsWith('{"type":"forbidden"')) this.#held.push(frame);
  }

  /** Snapshots, resets, results, pongs, errors: everything that is not a live event. */
  #send(frame: string): void {
    const socket = this.socket;
    if (socket.readyState !== OPEN || this.#expired()) return;
    socket.send(frame);
    // A client that sends (pings, commands) without reading the answers
    // would make us buffer without end: stop reading its frames until it
    // has read ours, so TCP flow control slows it down instead.
    if (!this.#readPaused && socket.bufferedAmount > this.#host.highWaterMark) {
      this.#readPaused = true;
      socket.pause();
      this.#whenDrained(() => {
        this.#readPaused = false;
        socket.resume();
      });
    }
  }

  /**
   * Run `fn` once everything queued so far has been handed to the kernel.
   * Writes complete in order, so the callback of a ping queued behind the
   * backlog is exactly that signal (and the ping doubles as a liveness probe).
   */
  #whenDrained(fn: () => void): void {
    this.socket.ping(undefined, undefined, (error?: Error) => {
      if (error || this.#closing || this.socket.readyState !== OPEN) return;
      fn();
    });
  }

  #stop(): void {
    const hub = this.#hub;
    this.#hub = undefined;
    hub?.close();
  }

  #overflow(frame: WireFrame): void {
    if (this.#host.slowClient === 'disconnect') {
      this.#host.report('backpressure', this.info, 'disconnect');
      this.close(1013, 'client too slow: send buffer passed the high-water mark', 'backpressure');
      return;
    }
    if (this.#lagging) return;
    this.#lagging = true;
    this.#hold(frame);
    // A connection naming no channels stops its stream entirely: no memory
    // grows and no per-event work is spent on it while it catches up. A
    // channel connection keeps its set (changed in place by the client) and
    // skips frames until it has drained.
    if (!this.#selection) this.#stop();
    this.#host.report('backpressure', this.info, 'reset');
    this.#whenDrained(() => {
      this.#lagging = false;
      if (!this.#selection) {
        this.#send(encodeWsReset('backpressure'));
        this.start(false);
        return;
      }
      // Each channel gets `reset` (reason `slow`) and its snapshot at the head.
      const held = this.#held;
      this.#held = [];
      for (const f of held) this.#send(f.ws);
      this.#hub?.restart();
    });
  }

  // ------------------------------------------------------------ frames in

  #message(data: RawData, isBinary: boolean): void {
    if (this.#closing || this.#expired()) return;
    if (isBinary) {
      this.#protocolError(
        new BoardcastError('unsupported_media_type', 'binary frames are not supported: send JSON text frames'),
      );
      return;
    }
    const decoded = tryDecodeClientFrame(data as Buffer, { maxBytes: this.#host.maxPayload });
    if (!decoded.ok) {
      if (decoded.id !== undefined) this.#send(encodeWsResultError(decoded.id, decoded.error));
      else this.#protocolError(decoded.error);
      return;
    }
    const envelope = decoded.envelope;
    if (envelope.type === 'ping') {
      this.#send(encodeWsPong(envelope.id));
      return;
    }
    if (envelope.type === 'subscribe') {
      this.#subscribe(envelope.id, envelope.channels, envelope.directory);
      return;
    }
    if (envelope.type === 'unsubscribe') {
      this.#unsubscribe(envelope.id, envelope.channels);
      return;
    }
    this.#command(envelope.id, envelope.command, envelope.data, envelope.channel);
  }

  /** Whether request `id` may start (commands and subscribes share `maxInFlight`); answers it when not. */
  #admit(id: CommandId): boolean {
    if (this.#inflight.has(id)) {
      const error = new BoardcastError('invalid_payload', `request id ${JSON.stringify(id)} is already in flight`);
      this.#send(encodeWsResultError(id, error));
      return false;
    }
    if (this.#inflight.size >= this.#host.maxInFlight) {
      const error = new BoardcastError(
        'too_many_requests',
        `at most ${this.#host.maxInFlight} commands and subscribes may be in flight per connection`,
      );
      this.#send(encodeWsResultError(id, error));
      return false;
    }
    this.#inflight.add(id);
    return true;
  }

  /** The hub connection of a channel connection; answers `id` with an error on one that names no channels. */
  #channelConnection(id: CommandId): HubConnection | undefined {
    if (this.#selection && this.#hub) return this.#hub;
    const error = new BoardcastError(
      'invalid_payload',
      'this connection names no channels: open it with ?channels= (may be empty) to subscribe',
    );
    this.#send(encodeWsResultError(id, error));
    return undefined;
  }

  /** `subscribe`: add channels in place; answered `{"added":[…],"refused":[{"channel","error"}]}`. */
  #subscribe(id: CommandId, channels: readonly WsChannelRequest[], directory: WsDirectoryQuery | undefined): void {
    const hub = this.#channelConnection(id);
    if (!hub || !this.#withinBudget(id, channels.length) || !this.#admit(id)) return;
    const requests = channels.map((c) => (c.since === undefined ? c.channel : { channel: c.channel, since: c.since }));
    // One subscribe's work (an access check, a snapshot or `forbidden` frame
    // per channel) runs in one go in the hub; frames read in one chunk would
    // otherwise run back to back in microtasks and hold every other socket's
    // reads and writes. Each waits for a turn of the event loop after the one
    // before it has been answered.
    this.#change(async () => {
      await nextTurn();
      if (this.#hub !== hub) {
        this.#inflight.delete(id); // the socket closed meanwhile: nothing to answer
        return;
      }
      await hub.add(requests, { directory }).then(
        (result) => {
          if (!this.#inflight.delete(id)) return; // the socket closed meanwhile
          const refused = result.refused.map((r) => ({ channel: r.channel, error: r.error.toJSON() }));
          this.#send(encodeWsResultOk(id, JSON.stringify({ added: result.added, refused })));
        },
        (error: unknown) => {
          if (!this.#inflight.delete(id)) return;
          this.#host.error(error, 'subscribe');
          this.#send(encodeWsResultError(id, new BoardcastError('handler_failed', 'subscribe failed')));
        },
      );
    });
  }

  /** Run a change of the set after the ones before it (subscribes and unsubscribes apply in the order sent). */
  #change(step: () => Promise<void>): void {
    this.#changes = this.#changes.then(step).catch((error: unknown) => this.#host.error(error, 'subscribe'));
  }

  /**
   * Whether a subscribe naming `channels` channels fits the socket's budget;
   * answers `id` with `too_many_requests` when not, and closes a socket that
   * keeps pushing (1008: the client ignores the answers it is given).
   */
  #withinBudget(id: CommandId, channels: number): boolean {
    const budget = this.#budget;
    if (!budget) return true;
    const verdict = budget.take(channels);
    if (verdict === 'ok') return true;
    const limit = `at most ${budget.rate} channels per second (bursts of ${budget.burst}) may be subscribed per connection`;
    if (verdict === 'abuse') {
      this.#send(encodeWsError(new BoardcastError('too_many_requests', `${limit}; closing`)));
      this.close(1008, 'too many subscribes', 'too_many_requests');
      return false;
    }
    const wait = Math.ceil(budget.waitSeconds(channels) * 10) / 10;
    const error = new BoardcastError('too_many_requests', `${limit}; retry in ${wait} s`);
    this.#send(encodeWsResultError(id, error));
    return false;
  }

  /** `unsubscribe`: drop channels in place (nothing of them follows); answered `{"removed":[…]}`. */
  #unsubscribe(id: CommandId, channels: readonly string[]): void {
    const hub = this.#channelConnection(id);
    if (!hub) return;
    // Answered once it applied, in order with the subscribes before it.
    this.#change(async () => {
      if (this.#hub !== hub) return;
      const removed = await hub.remove(channels);
      this.#send(encodeWsResultOk(id, JSON.stringify({ removed })));
    });
  }

  #command(id: CommandId, command: string, data: unknown, channel: string | undefined): void {
    if (!this.#admit(id)) return;
    this.#host.hub
      .dispatch(command, data, { transport: 'ws', clientId: this.info.id, auth: this.info.auth, channel })
      .then(
        (result) => (result.ok ? encodeWsResultOk(id, result.json) : encodeWsResultError(id, result.error)),
        (error: unknown) => {
          // dispatch never rejects; if that ever changes the command is still answered.
          this.#host.error(error, 'dispatch');
          return encodeWsResultError(id, new BoardcastError('handler_failed', `command "${command}" failed`));
        },
      )
      .then((frame) => {
        if (!this.#inflight.delete(id)) return; // the socket closed meanwhile
        this.#send(frame);
      });
  }

  /** A frame we cannot attribute to a command: say why, then close with the error's code. */
  #protocolError(error: BoardcastError): void {
    this.#send(encodeWsError(error));
    this.close(error.closeCode, error.message, 'protocol');
  }

  #error(error: Error & { code?: string }): void {
    const code = error.code ?? '';
    if (code.startsWith('WS_ERR_')) {
      // `ws` closes the socket itself with the matching code.
      this.#closing ??= { code: PROTOCOL_CLOSE_CODES[code] ?? 1002, reason: error.message, cause: 'protocol' };
      return;
    }
    // A peer resetting its connection is ordinary: the `disconnect` event
    // (cause `error`, with the message) reports it, not the error route.
    this.#closing ??= { code: 1006, reason: error.message, cause: 'error' };
  }

  // ------------------------------------------------------------ lifecycle

  /** Heartbeat tick: terminate if the previous ping went unanswered, else ping again. */
  beat(): void {
    if (this.#closing) return;
    if (!this.#alive) {
      this.terminate('no pong within the heartbeat interval', 'heartbeat');
      return;
    }
    this.#alive = false;
    this.socket.ping();
  }

  close(code: number, reason: string, cause: WsDisconnectCause): void {
    if (this.#closing) return;
    const text = closeReason(reason);
    this.#closing = { code, reason: text, cause };
    this.#stop();
    // The close handshake needs the peer's close frame: read again.
    if (this.#readPaused) this.socket.resume();
    try {
      this.socket.close(code, text);
    } catch {
      this.socket.terminate();
    }
    // A client that does not read cannot see our close frame; do not wait
    // ws's 30 s for it.
    this.#closeTimer = setTimeout(() => this.socket.terminate(), this.#host.closeTimeoutMs);
  }

  terminate(reason: string, cause: WsDisconnectCause): void {
    this.#closing ??= { code: 1006, reason, cause };
    this.#stop();
    this.socket.terminate();
  }
}
