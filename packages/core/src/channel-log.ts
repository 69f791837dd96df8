import type { EncodedEvent } from './encoded-event.js';
import type { SinceResult } from './history.js';

/** Bounds of a {@link ChannelLog}. */
export interface ChannelLogOptions {
  /** Events kept per channel (default 100). 0 keeps none: every resume of a channel with events after it is a gap. */
  readonly perChannel?: number;
  /** Events older than this are evicted, in ms (default 15 min). `Infinity` keeps them until another bound applies. */
  readonly maxAgeMs?: number;
  /**
   * Hub-wide budget for every channel's history, in bytes of payload JSON
   * (UTF-16 length, a close upper bound of what the frames cost) plus a
   * fixed 128 per event (default 32 MiB). Past it the oldest events across
   * all channels are evicted first.
   */
  readonly maxBytes?: number;
  /** Clock for `maxAgeMs`, in ms (default `Date.now`). */
  readonly now?: () => number;
}

/** What a channel's history holds and has lost, for metrics. */
export interface ChannelHistoryStats {
  readonly events: number;
  readonly bytes: number;
  /** Events evicted so far (count, age or the hub-wide byte budget). */
  readonly evictions: number;
}

/** The per-event overhead counted against `maxBytes` (ids, names, the frame around the JSON). */
const EVENT_OVERHEAD = 128;

interface Entry {
  readonly seq: number;
  /** Dropped (undefined) at eviction, so a dead entry still in the queue holds no payload. */
  event: EncodedEvent | undefined;
  readonly bytes: number;
  readonly at: number;
  readonly log: Log;
  evicted: boolean;
}

interface Log {
  readonly channel: string;
  /** Retained entries from `start` on; the slots before it are emptied at eviction. */
  entries: (Entry | undefined)[];
  /** Index of the oldest retained entry in `entries`. */
  start: number;
  bytes: number;
  evictions: number;
  /** Sequence of the newest event evicted from this channel (0: none). */
  watermark: number;
}

/**
 * Per-channel replay history on one sequence of ids (the in-memory bus's).
 *
 * Each channel keeps its own recent events, so a noisy channel never pushes
 * a quiet one's out; one hub-wide byte budget (and the age bound) evicts the
 * oldest events across channels. A channel remembers the sequence of the
 * newest event it lost (its *watermark*): a resume from L is a gap for that
 * channel only when the watermark is newer than L. A quiet channel that has
 * had no event since L is therefore never a gap, however old its history —
 * unlike a single ring of consecutive sequences, which calls anything before
 * its oldest entry a gap.
 */
export class ChannelLog {
  readonly perChannel: number;
  readonly maxAgeMs: number;
  readonly maxBytes: number;
  readonly #now: () => number;
  readonly #logs = new Map<string, Log>();
  /** Every retained entry in publish order (the hub-wide eviction order). */
  #queue: Entry[] = [];
  #queueStart = 0;
  /** Evicted entries still in the queue after `#queueStart` (see `#evictByBudget`). */
  #dead = 0;
  #bytes = 0;
  /** Newest sequence appended. */
  #last = 0;
  /** Sequence of the newest channel removal: a channel with no log is a gap for anything older. */
  #removedUpTo = 0;

  constructor(options: ChannelLogOptions = {}) {
    this.perChannel = options.perChannel ?? 100;
    this.maxAgeMs = options.maxAgeMs ?? 15 * 60_000;
    this.maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
    this.#now = options.now ?? Date.now;
    if (!Number.isInteger(this.perChannel) || this.perChannel < 0) {
      throw new RangeError('perChannel must be an integer ≥ 0');
    }
    if (!(this.maxAgeMs > 0)) throw new RangeError('maxAgeMs must be > 0');
    if (!(this.maxBytes >= 0)) throw new RangeError('maxBytes must be ≥ 0');
  }

  /** Newest sequence appended (0 before any). */
  get lastSeq(): number {
    return this.#last;
  }

  /** Bytes held across every channel (see `maxBytes`). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Channels with a log. */
  get channelCount(): number {
    return this.#logs.size;
  }

  /** Append the event with sequence `seq` (greater than every earlier one) to `channel`. */
  push(channel: string, seq: number, event: EncodedEvent): void {
    if (!(seq > this.#last)) throw new RangeError(`channel log expects a sequence after ${this.#last}, got ${seq}`);
    this.#last = seq;
    let log = this.#logs.get(channel);
    if (!log) {
      log = { channel, entries: [], start: 0, bytes: 0, evictions: 0, watermark: 0 };
      this.#logs.set(channel, log);
    }
    const now = this.#now();
    if (this.perChannel === 0) {
      log.watermark = seq;
      log.evictions++;
    } else {
      const entry: Entry = { seq, event, bytes: event.json.length + EVENT_OVERHEAD, at: now, log, evicted: false };
      log.entries.push(entry);
      log.bytes += entry.bytes;
      this.#bytes += entry.bytes;
      this.#queue.push(entry);
      if (log.entries.length - log.start > this.perChannel) this.#evictOldestOf(log);
    }
    this.#evictByBudget(now);
  }

  /**
   * The events of `channel` after sequence `seq`, in order, or a gap when
   * the channel lost an event after `seq` (its watermark is newer) or was
   * removed since. `seq` newer than anything appended is a gap too.
   */
  since(channel: string, seq: number): SinceResult {
    if (!Number.isSafeInteger(seq) || seq < 0 || seq > this.#last) return { kind: 'gap' };
    this.#evictByBudget(this.#now());
    const log = this.#logs.get(channel);
    if (!log) return this.#removedUpTo > seq ? { kind: 'gap' } : { kind: 'events', events: [] };
    if (log.watermark > seq) return { kind: 'gap' };
    const { entries } = log;
    // Binary search for the first retained entry after `seq`.
    let lo = log.start;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((entries[mid] as Entry).seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    const events: EncodedEvent[] = [];
    for (let i = lo; i < entries.length; i++) events.push((entries[i] as Entry).event as EncodedEvent);
    return { kind: 'events', events };
  }

  /** Forget `channel`'s history (the channel was removed by the event with sequence `seq`). */
  remove(channel: string, seq: number): void {
    const log = this.#logs.get(channel);
    if (seq > this.#removedUpTo) this.#removedUpTo = seq;
    if (!log) return;
    for (let i = log.start; i < log.entries.length; i++) {
      const entry = log.entries[i] as Entry;
      this.#kill(entry);
      this.#bytes -= entry.bytes;
    }
    this.#logs.delete(channel);
    this.#evictByBudget(this.#now());
  }

  /** Metrics of one channel's history (all zero for a channel without one). */
  stats(channel: string): ChannelHistoryStats {
    const log = this.#logs.get(channel);
    if (!log) return { events: 0, bytes: 0, evictions: 0 };
    return { events: log.entries.length - log.start, bytes: log.bytes, evictions: log.evictions };
  }

  /** Drop every event (a process keeps its sequence; every resume from before is then a gap). */
  clear(): void {
    for (const log of this.#logs.values()) {
      if (log.entries.length > log.start) log.watermark = this.#last;
      log.entries = [];
      log.start = 0;
      log.bytes = 0;
    }
    this.#queue = [];
    this.#queueStart = 0;
    this.#dead = 0;
    this.#bytes = 0;
  }

  /**
   * Mark `entry` evicted and drop its event. Its queue slot stays until the
   * queue's head passes it or the queue is filtered, but holds no payload.
   */
  #kill(entry: Entry): void {
    entry.evicted = true;
    entry.event = undefined;
    this.#dead++;
  }

  #evictOldestOf(log: Log): void {
    const entry = log.entries[log.start] as Entry;
    this.#kill(entry);
    log.entries[log.start] = undefined;
    log.start++;
    log.bytes -= entry.bytes;
    log.evictions++;
    log.watermark = entry.seq;
    this.#bytes -= entry.bytes;
    // Compact now and then, so a channel's array does not grow with everything it ever held.
    if (log.start > 64 && log.start * 2 > log.entries.length) {
      log.entries = log.entries.slice(log.start);
      log.start = 0;
    }
  }

  /** Evict across channels, oldest first, past the byte budget or the age bound. */
  #evictByBudget(now: number): void {
    const oldest = now - this.maxAgeMs;
    const queue = this.#queue;
    while (this.#queueStart < queue.length) {
      const entry = queue[this.#queueStart] as Entry;
      if (!entry.evicted) {
        if (this.#bytes <= this.maxBytes && entry.at >= oldest) break;
        // Per-channel order is publish order, so the oldest of the queue is its channel's oldest.
        this.#evictOldestOf(entry.log);
      }
      this.#dead--;
      this.#queueStart++;
    }
    if (this.#dead > 1024 && this.#dead * 2 > queue.length - this.#queueStart) {
      // Most of the queue is dead behind a live head (a quiet channel's old
      // event while the per-channel count evicts a noisy one's): without this
      // the queue would grow with every event until that head ages out.
      this.#queue = queue.filter((entry, i) => i >= this.#queueStart && !entry.evicted);
      this.#queueStart = 0;
      this.#dead = 0;
    } else if (this.#queueStart > 1024 && this.#queueStart * 2 > queue.length) {
      this.#queue = queue.slice(this.#queueStart);
      this.#queueStart = 0;
    }
  }
}
