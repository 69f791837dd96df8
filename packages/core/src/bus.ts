import { EncodedEvent } from './encoded-event.js';
import { History, type SinceResult } from './history.js';
import type { BusStatus } from './status.js';

export type BusListener = (event: EncodedEvent) => void;

/** The folded state after the event with id `id` (`undefined`: before any event). */
export interface StateCheckpoint {
  readonly id: string | undefined;
  readonly state: unknown;
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
 * - `since(lastId)` returns the events after `lastId` in that order, or a
 *   gap when it cannot prove it has all of them (unknown, trimmed, foreign).
 * - Methods may be synchronous (in-memory) or return promises (network).
 */
export interface Bus {
  publish(event: string, data: unknown, json: string): string | Promise<string>;
  subscribe(listener: BusListener): () => void;
  since(lastId: string): SinceResult | Promise<SinceResult>;
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
  loadState?(): Promise<StateCheckpoint | undefined>;
  /**
   * Optional: store a checkpoint (the state after event `id`, as JSON). The
   * hub calls it every `checkpointEvery` folded events; a bus keeps the
   * newest one it was given, by id.
   */
  saveState?(id: string, json: string): void | Promise<void>;
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
  /** Events kept for replay (default 1000). */
  readonly history?: number;
  /**
   * Prefix that makes ids from an earlier process invalid after a restart,
   * so a browser resuming with an old id gets a reset rather than the wrong
   * events. Defaults to a random base-36 string.
   */
  readonly epoch?: string;
}

/**
 * In-process bus: ids are `<epoch>-<sequence>`, fan-out is synchronous,
 * history is a ring buffer.
 */
export class MemoryBus implements Bus {
  readonly epoch: string;
  readonly history: History;
  #seq = 0;
  #listeners = new Set<BusListener>();
  #head: string | undefined;

  constructor(options: MemoryBusOptions = {}) {
    this.epoch = options.epoch ?? randomEpoch();
    if (!/^[A-Za-z0-9]+$/.test(this.epoch)) throw new TypeError('MemoryBus epoch must be alphanumeric');
    this.history = new History(options.history ?? 1000);
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

  publish(event: string, data: unknown, json: string): string {
    const seq = ++this.#seq;
    const id = `${this.epoch}-${seq}`;
    const encoded = new EncodedEvent(id, event, data, json);
    this.history.push(seq, encoded);
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

  since(lastId: string): SinceResult {
    const dash = lastId.lastIndexOf('-');
    if (dash <= 0 || lastId.slice(0, dash) !== this.epoch) return { kind: 'gap' };
    const digits = lastId.slice(dash + 1);
    if (!/^\d{1,15}$/.test(digits)) return { kind: 'gap' };
    return this.history.since(Number(digits));
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
