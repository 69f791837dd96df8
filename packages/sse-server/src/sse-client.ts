import { type BoardcastError, DEFAULT_CHANNEL, type HubConnection } from '@boardcast/core';
import {
  type ChannelSelection,
  channelForbiddenFrame,
  type EncodedSnapshot,
  encodeSseReset,
  type HubSink,
  onExpiry,
  STATUS_EVENT,
  type WireFrame,
} from '@boardcast/core/wire';
import type { SseConnection } from './connection.js';
import type { AnyHub } from './hub-like.js';

export type DisconnectReason =
  /** The client closed the connection or aborted the request. */
  | 'client'
  /** Its unread bytes passed `highWaterMark` (`slowClient: 'disconnect'`). */
  | 'slow'
  /** `close()` was called on the endpoint, or the hub closed. */
  | 'closed'
  /** The socket failed. */
  | 'error'
  /** Its unsent data did not move for two keep-alive intervals: the peer is gone or the link is silent. */
  | 'timeout'
  /** The credential's `expiresAt` (from `authorize`) passed: the stream was ended. */
  | 'expired'
  /** The viewer may no longer see the default channel of a stream that names no channels. */
  | 'forbidden';

/** What the `connect`/`disconnect` events and `clients()` tell about one stream. */
export interface SseClientInfo {
  readonly id: string;
  /** `node` for `node(req, res)`, `fetch` for `fetch(request)`. */
  readonly adapter: 'node' | 'fetch';
  /** The client's IP address: the peer's (Node adapter; Fetch adapter when passed as `remoteAddress`), or with `trustProxy` the one the trusted proxy forwarded. */
  readonly remoteAddress: string | undefined;
  readonly lastEventId: string | undefined;
  readonly events: readonly string[] | undefined;
  /**
   * The channels the stream was opened with (`?channels=` or the POST body:
   * ids, `prefix*`, `~directory`), or `undefined` for the single stream of
   * 0.1. The set is fixed for the stream's life, less channels refused or
   * revoked (`forbidden` frames).
   */
  readonly channels: readonly string[] | undefined;
  /** What `authorize` returned. */
  readonly auth: unknown;
  /** `Date.now()` when the stream opened. */
  readonly connectedAt: number;
  /** Bytes written but not yet taken by the peer. */
  readonly bufferedBytes: number;
  /** The largest `bufferedBytes` seen before a write (measured once writes start to back up). */
  readonly peakBufferedBytes: number;
  /** How many times the client fell behind and was sent `reset` (`slowClient: 'reset'`). */
  readonly resets: number;
}

export interface ClientShared {
  readonly hub: AnyHub;
  readonly highWaterMark: number;
  readonly slowClient: 'disconnect' | 'reset';
  readonly remove: (client: SseClient, reason: DisconnectReason) => void;
}

export interface ClientInit {
  readonly id: string;
  readonly adapter: 'node' | 'fetch';
  readonly remoteAddress: string | undefined;
  readonly lastEventId: string | undefined;
  readonly events: ReadonlySet<string> | undefined;
  readonly auth: unknown;
  /** The channels the stream names (`undefined`: the single stream of 0.1). */
  readonly selection?: ChannelSelection | undefined;
  /** When the credential expires (ms since the epoch); the stream ends then. */
  readonly expiresAt?: number | undefined;
}

const RESET_HISTORY = encodeSseReset('history');
const RESET_SLOW = encodeSseReset('slow');

/**
 * One open stream: the hub sink, the backpressure guard and the clean-up.
 * The per-event path is `event()` → `write()`: one buffered-bytes read, one
 * compare and the write of the shared frame string.
 */
export class SseClient implements HubSink, SseClientInfo {
  readonly id: string;
  readonly adapter: 'node' | 'fetch';
  readonly remoteAddress: string | undefined;
  readonly lastEventId: string | undefined;
  readonly events: readonly string[] | undefined;
  readonly channels: readonly string[] | undefined;
  readonly auth: unknown;
  readonly connectedAt = Date.now();
  peakBufferedBytes = 0;
  resets = 0;
  readonly #shared: ClientShared;
  readonly #filter: ReadonlySet<string> | undefined;
  readonly #selection: ChannelSelection | undefined;
  readonly #expiresAt: number | undefined;
  #connection: SseConnection | undefined;
  /** The hub connection; on a channel stream it lives as long as the stream (the set is kept across a slow-client restart). */
  #hub: HubConnection | undefined;
  #cancelExpiry: (() => void) | undefined;
  /** Frames a stalled channel stream must still get: the newest status and every `forbidden` (bounded by the set). */
  #held: WireFrame[] = [];
  /** Behind the high-water mark and waiting for a drain (reset mode). */
  #stalled = false;
  /** The last write reported a backlog; until one does, reading the buffer size is skipped. */
  #pressured = false;
  #closed = false;
  /** `connection.flushed` at the last liveness check, and how many checks in a row saw no progress. */
  #lastFlushed = -1;
  #stuckChecks = 0;

  constructor(shared: ClientShared, init: ClientInit) {
    this.#shared = shared;
    this.id = init.id;
    this.adapter = init.adapter;
    this.remoteAddress = init.remoteAddress;
    this.lastEventId = init.lastEventId;
    this.#filter = init.events;
    this.events = init.events ? [...init.events] : undefined;
    this.auth = init.auth;
    this.#selection = init.selection;
    this.channels = init.selection?.channels.map((c) => (typeof c === 'string' ? c : c.channel));
    this.#expiresAt = init.expiresAt;
  }

  get bufferedBytes(): number {
    return this.#connection?.buffered ?? 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Send `retry:` and attach to the hub (snapshot, replay or reset, then live). */
  start(connection: SseConnection, retryFrame: string): void {
    this.#connection = connection;
    this.#pressured = !connection.write(retryFrame);
    this.#attach(this.lastEventId);
    if (this.#expiresAt !== undefined && !this.#closed) {
      this.#cancelExpiry = onExpiry(this.#expiresAt, () => this.close('expired'));
    }
  }

  snapshot(snapshot: EncodedSnapshot): void {
    this.write(snapshot.sse);
  }

  event(frame: WireFrame): void {
    if (this.#stalled && this.#selection) {
      // Skipped while stalled, except what the restart cannot repeat: the
      // server's status and the channels the viewer lost meanwhile.
      if ((frame as { event?: string }).event === STATUS_EVENT) {
        this.#held = this.#held.filter((f) => (f as { event?: string }).event !== STATUS_EVENT);
        this.#held.push(frame);
      } else if (frame.id === '' && frame.sse.startsWith('event: forbidden\n')) this.#held.push(frame);
      return;
    }
    this.write(frame.sse);
  }

  /** The viewer may no longer see the default channel of this single stream: say so and end it. */
  end(error: BoardcastError): void {
    if (this.#closed) return;
    this.#stalled = false;
    this.write(channelForbiddenFrame(DEFAULT_CHANNEL, error).sse);
    this.close('forbidden');
  }

  reset(reason: string): void {
    this.write(reason === 'history' ? RESET_HISTORY : encodeSseReset(reason));
  }

  write(chunk: string): void {
    const connection = this.#connection;
    if (this.#stalled || !connection) return;
    // The expiry timer runs when the loop gets to it, which on a busy loop is
    // after an event published past `expiresAt`: that event must not go out.
    if (this.#expiresAt !== undefined && Date.now() >= this.#expiresAt) {
      this.close('expired');
      return;
    }
    if (this.#pressured) {
      const buffered = connection.buffered;
      if (buffered > this.peakBufferedBytes) this.peakBufferedBytes = buffered;
      if (buffered > this.#shared.highWaterMark) {
        this.#overflow(connection);
        return;
      }
    }
    this.#pressured = !connection.write(chunk);
  }

  /**
   * Keep-alive tick: false (and the stream dropped as `timeout`) when data
   * is waiting and none of it has left for two ticks in a row — the peer is
   * dead or the link silent; a live client, however slow, makes progress.
   */
  checkProgress(): boolean {
    const connection = this.#connection;
    if (this.#closed || !connection) return false;
    const flushed = connection.flushed;
    if (connection.buffered > 0 && flushed === this.#lastFlushed) {
      if (++this.#stuckChecks >= 2) {
        this.close('timeout');
        return false;
      }
    } else this.#stuckChecks = 0;
    this.#lastFlushed = flushed;
    return true;
  }

  /**
   * End the stream for a shutdown and resolve once it is gone: at once when
   * everything was sent, else when the peer has taken the rest, and after
   * `graceMs` whatever the peer does (then the connection is destroyed).
   */
  shutdown(graceMs: number): Promise<void> {
    const connection = this.#connection;
    if (this.#closed || !connection) {
      this.close('closed');
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => connection.destroy(), graceMs);
      (timer as { unref?: () => void }).unref?.();
      connection.onGone(() => {
        clearTimeout(timer);
        resolve();
      });
      this.close('closed');
    });
  }

  /** Ends the stream (reason `closed`/`slow`/`timeout`) or records that the peer did (`client`/`error`). */
  close(reason: DisconnectReason): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelExpiry?.();
    this.#hub?.close();
    this.#hub = undefined;
    this.#held = [];
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) {
      // Ended by us for a reason the client must see whole: let what is queued leave first.
      if (reason === 'closed' || reason === 'expired' || reason === 'forbidden') connection.end();
      else connection.destroy();
    }
    this.#shared.remove(this, reason);
  }

  #attach(lastEventId: string | undefined): void {
    const selection = this.#selection;
    // A channel stream carries its resume ids in `channels` (per channel, `fresh` ones without).
    const options = selection
      ? { channels: selection.channels, directory: selection.directory, events: this.#filter, principal: this.auth }
      : { lastEventId, events: this.#filter, principal: this.auth };
    const connection = this.#shared.hub.connect(options, this);
    // The first writes happen inside connect(); they may already have closed us.
    if (this.#closed || (this.#stalled && !selection)) connection.close();
    else this.#hub = connection;
  }

  #overflow(connection: SseConnection): void {
    if (this.#shared.slowClient === 'disconnect') {
      this.close('slow');
      return;
    }
    // Skip events until it catches up, then start over from a fresh snapshot:
    // the client's state is right again and the server held nothing for it.
    this.#stalled = true;
    if (!this.#selection) {
      this.#hub?.close();
      this.#hub = undefined;
    }
    connection.onDrain(() => {
      if (this.#closed) return;
      this.#stalled = false;
      this.#pressured = false;
      this.resets++;
      if (!this.#selection) {
        this.#pressured = !connection.write(RESET_SLOW);
        this.#attach(undefined);
        return;
      }
      // A channel stream keeps its connection and so its set: each channel
      // gets `reset` (reason `slow`) and its snapshot at the head.
      const held = this.#held;
      this.#held = [];
      for (const frame of held) this.write(frame.sse);
      this.#hub?.restart();
    });
  }
}
