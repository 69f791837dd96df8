import type { EncodedEvent } from './encoded-event.js';

/** What `since(lastId)` found. */
export type SinceResult =
  | { readonly kind: 'events'; readonly events: readonly EncodedEvent[] }
  /** History no longer reaches back to `lastId` (or the id is unknown): send `reset` + a fresh snapshot. */
  | { readonly kind: 'gap' };

/**
 * A bounded ring of the most recent events, in publish order, with
 * sequence numbers that only grow. Lookup by sequence is O(1); a replay
 * copies only the missed slice.
 */
export class History {
  readonly capacity: number;
  #ring: (EncodedEvent | undefined)[];
  #seqs: number[];
  /** Sequence of the oldest retained entry. */
  #first = 1;
  /** Sequence of the newest entry; 0 when nothing was ever published. */
  #last = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError('history capacity must be an integer ≥ 0');
    this.capacity = capacity;
    this.#ring = new Array(capacity);
    this.#seqs = new Array(capacity);
  }

  get size(): number {
    return this.#last - this.#first + 1;
  }

  get lastSeq(): number {
    return this.#last;
  }

  get firstSeq(): number {
    return this.#first;
  }

  /** Append the event published with sequence `seq` (must be `lastSeq + 1`). */
  push(seq: number, event: EncodedEvent): void {
    if (seq !== this.#last + 1) throw new RangeError(`history expects sequence ${this.#last + 1}, got ${seq}`);
    this.#last = seq;
    if (this.capacity === 0) {
      this.#first = seq + 1;
      return;
    }
    const slot = seq % this.capacity;
    this.#ring[slot] = event;
    this.#seqs[slot] = seq;
    if (this.size > this.capacity) this.#first = this.#last - this.capacity + 1;
  }

  /**
   * Events published after `seq`, in order. `seq === lastSeq` → none missed.
   * A `seq` older than the oldest retained entry, or newer than anything
   * published, is a gap.
   */
  since(seq: number): SinceResult {
    if (!Number.isSafeInteger(seq) || seq < 0 || seq > this.#last) return { kind: 'gap' };
    if (seq < this.#first - 1) return { kind: 'gap' };
    const events: EncodedEvent[] = [];
    for (let s = seq + 1; s <= this.#last; s++) {
      const slot = s % this.capacity;
      const event = this.#ring[slot];
      if (event === undefined || this.#seqs[slot] !== s) return { kind: 'gap' };
      events.push(event);
    }
    return { kind: 'events', events };
  }

  clear(): void {
    this.#ring = new Array(this.capacity);
    this.#seqs = new Array(this.capacity);
    this.#first = this.#last + 1;
  }
}
