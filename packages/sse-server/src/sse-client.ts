import { type EncodedEvent, type EncodedSnapshot, encodeSseReset, type HubSink } from '@boardcast/core/wire';
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
  | 'timeout';

/** What the `connect`/`disconnect` events and `clients()` tell about one stream. */
export interface SseClientInfo {
  readonly id: string;
  /** `node` for `node(req, res)`, `fetch` for `fetch(request)`. */
  readonly adapter: 'node' | 'fetch';
  /** The peer's IP address (Node adapter; Fetch adapter when passed as `remoteAddress`). */
  readonly remoteAddress: string | undefined;
  readonly lastEventId: string | undefined;
  readonly events: readonly string[] | undefined;
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
  readonly auth: unknown;
  readonly connectedAt = Date.now();
  peakBufferedBytes = 0;
  resets = 0;
  readonly #shared: ClientShared;
  readonly #filter: ReadonlySet<string> | undefined;
  #connection: SseConnection | undefined;
  #detach: (() => void) | undefined;
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
  }

  snapshot(snapshot: EncodedSnapshot): void {
    this.write(snapshot.sse);
  }

  event(event: EncodedEvent): void {
    this.write(event.sse);
  }

  reset(reason: string): void {
    this.write(reason === 'history' ? RESET_HISTORY : encodeSseReset(reason));
  }

  write(chunk: string): void {
    const connection = this.#connection;
    if (this.#stalled || !connection) return;
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
    this.#detach?.();
    this.#detach = undefined;
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) {
      if (reason === 'closed') connection.end();
      else connection.destroy();
    }
    this.#shared.remove(this, reason);
  }

  #attach(lastEventId: string | undefined): void {
    const detach = this.#shared.hub.attach({ lastEventId, events: this.#filter }, this);
    // The first writes happen inside attach(); they may already have closed us.
    if (this.#closed || this.#stalled) detach();
    else this.#detach = detach;
  }

  #overflow(connection: SseConnection): void {
    if (this.#shared.slowClient === 'disconnect') {
      this.close('slow');
      return;
    }
    // Skip events until it catches up, then start over from a fresh snapshot:
    // the client's state is right again and the server held nothing for it.
    this.#stalled = true;
    this.#detach?.();
    this.#detach = undefined;
    connection.onDrain(() => {
      if (this.#closed) return;
      this.#stalled = false;
      this.#pressured = false;
      this.resets++;
      this.#pressured = !connection.write(RESET_SLOW);
      this.#attach(undefined);
    });
  }
}
