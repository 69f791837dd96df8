import { DEFAULT_CHANNEL } from './channel.js';
import { type ChannelHistoryStats, ChannelLog } from './channel-log.js';
import { EncodedEvent } from './encoded-event.js';
import type { SinceResult } from './history.js';
import type { BusStatus } from './status.js';

export type BusListener = (event: EncodedEvent) => void;

/** The folded state after the event with id `id` (`undefined`: before any event). */
export interface StateCheckpoint {
  readonly id: string | undefined;
  readonly state: unknown;
  /** The channel whose state this is (default: the default channel). */
  readonly channel?: string | undefined;
}
export type { BusStatus } from './status.js';

/**
 * Fan-out and id assignment behind a hub. The in-memory bus is the default;
 * a distributed bus (Redis Streams, MQTT) implements the same interface so
 * that hubs in several processes deliver the same events with the same ids.
 *
 * Contract for implementers:
 * - `publish` assigns the id and delivers the event to every subscriber of
 *   every instance, in one total order, exactly once.
 * - Ids are opaque strings to clients; only the bus compares them.
 * - Every event belongs to a channel (`channel`, default {@link DEFAULT_CHANNEL});
 *   ids are global (one order across channels), history is per channel.
 * - `since(lastId, channel)` returns the channel's events after `lastId` in
 *   that order, or a gap when it cannot prove it has all of them (unknown
 *   or foreign id, or the channel lost an event newer than `lastId`). A
 *   channel with no event after `lastId` is never a gap.
 * - `compareIds` orders two ids of this bus.
 * - Methods may be synchronous (in-memory) or return promises (network).
 */
export interface Bus {
  publish(event: string, data: unknown, json: string, channel?: string): string | Promise<string>;
  subscribe(listener: BusListener): () => void;
  since(lastId: string, channel?: string): SinceResult | Promise<SinceResult>;
  /**
   * Order two ids of this bus: negative when `a` came first, 0 when equal,
   * positive when `b` came first; `undefined` when either is not an id of
   * this bus (another epoch, garbage) — the hub then treats a resume from
   * it as a gap. Optional for 0.1 buses: without it the hub compares ids of
   * the form `<digits>-<digits>` (the in-memory and Redis Streams forms).
   */
  compareIds?(a: string, b: string): number | undefined;
  /**
   * Optional: forget a removed channel's history (the hub calls it when it
   * folds the removal with id `id`). A resume of that channel from before
   * `id` is then a gap.
   */
  removeChannel?(channel: string, id: string): void | Promise<void>;
  /** Optional: what the bus holds of a channel's history, for metrics. */
  channelStats?(channel: string): ChannelHistoryStats | undefined;
  /** Id of the newest event this instance has delivered, if any. */
  readonly headId: string | undefined;
  /**
   * Optional: an id standing for "before the first event" of this bus
   * (`<epoch>-0` in memory, `0-0` on Redis). A snapshot taken before any
   * event carries it, so a client always has a resume point the bus accepts:
   * `since(originId)` answers every event so far, or a gap once they are no
   * longer all there. Without it such a snapshot has no id, and a browser's
   * `EventSource` keeps resending whatever unusable Last-Event-ID it had.
   */
  readonly originId?: string;
  /**
   * Optional, for buses shared by several instances: the newest state
   * checkpoint, i.e. the folded state after the event with id `id`. A hub
   * starts from it, and the bus delivers to subscribers exactly the events
   * after `id` (from the oldest it still has when there is no checkpoint),
   * so every instance folds the same events onto the same state. Resolves
   * `undefined` when there is no checkpoint yet.
   */
  loadState?(): Promise<StateCheckpoint | readonly StateCheckpoint[] | undefined>;
  /**
   * Optional: store a checkpoint (the state after event `id`, as JSON). The
   * hub calls it every `checkpointEvery` folded events; a bus keeps the
   * newest one it was given, by id.
   */
  saveState?(id: string, json: string, channel?: string): void | Promise<void>;
  /**
   * True when `saveState`/`loadState` keep one checkpoint per channel
   * (`channel` argument, checkpoints with `channel`). A bus without it is
   * given only the default channel's checkpoints.
   */
  readonly channelCheckpoints?: boolean;
  /** Events between two `saveState` calls (default 100). */
  readonly checkpointEvery?: number;
  /**
   * Optional: the bus lost its stored checkpoint (a Redis restart without
   * persistence): the hub stores one at once. Returns the unsubscribe function.
   */
  onCheckpointLost?(listener: () => void): () => void;
  /**
   * Optional: events this instance had not delivered are gone (trimmed
   * while it was cut off from a shared bus), so its folded state misses
   * them. The bus calls this with a newer checkpoint; the hub adopts it as
   * its state and head, and the bus delivers the events after it. Returns
   * the unsubscribe function.
   */
  onResync?(listener: (checkpoint: StateCheckpoint) => void): () => void;
  /**
   * Optional, for buses that depend on a network: their health now. A hub
   * on a bus that has it refuses commands with `bus_unavailable` while it is
   * `degraded` and tells its clients (see {@link ServerStatus}).
   */
  readonly status?: BusStatus;
  /**
   * Optional, with `status`: call `listener` on every change of `status`.
   * Returns the unsubscribe function.
   */
  onStatus?(listener: (status: BusStatus) => void): () => void;
  close(): void | Promise<void>;
}

export interface MemoryBusOptions {
  /** Events kept for replay per channel (default 100). */
  readonly history?: number;
  /** Events older than this (ms) leave the history (default 15 min). */
  readonly historyMaxAgeMs?: number;
  /** Byte budget of every channel's history together; the oldest events go first (default 32 MiB). */
  readonly historyBytes?: number;
  /**
   * Prefix that makes ids from an earlier process invalid after a restart,
   * so a browser resuming with an old id gets a reset rather than the wrong
   * events. Defaults to a random base-36 string.
   */
  readonly epoch?: string;
}

/**
 * In-process bus: ids are `<epoch>-<sequence>`, fan-out is synchronous,
 * history is kept per channel ({@link ChannelLog}).
 */
export class MemoryBus implements Bus {
  readonly epoch: string;
  readonly history: ChannelLog;
  #seq = 0;
  #listeners = new Set<BusListener>();
  #head: string | undefined;

  constructor(options: MemoryBusOptions = {}) {
    this.epoch = options.epoch ?? randomEpoch();
    if (!/^[A-Za-z0-9]+$/.test(this.epoch)) throw new TypeError('MemoryBus epoch must be alphanumeric');
    this.history = new ChannelLog({
      perChannel: options.history ?? 100,
      maxAgeMs: options.historyMaxAgeMs,
      maxBytes: options.historyBytes,
    });
  }

  get headId(): string | undefined {
    return this.#head;
  }

  /** `<epoch>-0`: before this process's first event; ids of another epoch are a gap. */
  get originId(): string {
    return `${this.epoch}-0`;
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  publish(event: string, data: unknown, json: string, channel: string = DEFAULT_CHANNEL): string {
    const seq = ++this.#seq;
    const id = `${this.epoch}-${seq}`;
    const encoded = new EncodedEvent(id, event, data, json, channel);
    this.history.push(channel, seq, encoded);
    this.#head = id;
    for (const listener of this.#listeners) listener(encoded);
    return id;
  }

  subscribe(listener: BusListener): () => void {
    // Wrap so the same function can subscribe twice and unsubscribe once.
    const entry: BusListener = (event) => listener(event);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  since(lastId: string, channel: string = DEFAULT_CHANNEL): SinceResult {
    const seq = this.#seqOf(lastId);
    return seq === undefined ? { kind: 'gap' } : this.history.since(channel, seq);
  }

  compareIds(a: string, b: string): number | undefined {
    const x = this.#seqOf(a);
    const y = this.#seqOf(b);
    return x === undefined || y === undefined ? undefined : x - y;
  }

  removeChannel(channel: string, id: string): void {
    const seq = this.#seqOf(id);
    if (seq !== undefined) this.history.remove(channel, seq);
  }

  channelStats(channel: string): ChannelHistoryStats {
    return this.history.stats(channel);
  }

  /** The sequence of an id of this epoch; `undefined` for anything else. */
  #seqOf(id: string): number | undefined {
    const dash = id.lastIndexOf('-');
    if (dash <= 0 || id.slice(0, dash) !== this.epoch) return undefined;
    const digits = id.slice(dash + 1);
    return /^\d{1,15}$/.test(digits) ? Number(digits) : undefined;
  }

  close(): void {
    this.#listeners.clear();
  }
}

function randomEpoch(): string {
  const bytes = new Uint8Array(4);
  crypto.getRandomValues(bytes);
  let n = 0;
  for (const b of bytes) n = n * 256 + b;
  return n.toString(36);
}

/**
 * Order ids of the form `<digits>-<digits>` (Redis Streams ids, and the
 * in-memory bus's within one epoch); `undefined` for anything else. The
 * hub's fallback for a bus without `compareIds`.
 */
export function compareStreamIds(a: string, b: string): number | undefined {
  const x = /^(\d{1,20})-(\d{1,20})$/.exec(a);
  const y = /^(\d{1,20})-(\d{1,20})$/.exec(b);
  if (!x || !y) return undefined;
  const major = compareDigits(x[1] as string, y[1] as string);
  return major !== 0 ? major : compareDigits(x[2] as string, y[2] as string);
}

function compareDigits(a: string, b: string): number {
  const p = a.replace(/^0+(?=\d)/, '');
  const q = b.replace(/^0+(?=\d)/, '');
  if (p.length !== q.length) return p.length - q.length;
  return p < q ? -1 : p > q ? 1 : 0;
}
