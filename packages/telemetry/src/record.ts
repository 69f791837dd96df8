import { BoardcastError, Emitter } from '@boardcast/core';
import type { Reading, TelemetryStore, WriteResult } from './types.js';
import { cleanReading, cleanSource, DEFAULT_CHANNEL } from './validate.js';

/**
 * The parts of a published event the recorder reads: the shape of core's
 * `EncodedEvent`, structural so this package does not reach into core's
 * wire entry. `channel` is read with a fallback to `'default'` (hubs from
 * before channels have none).
 */
export interface RecordableEvent {
  readonly id: string;
  readonly event: string;
  readonly data: unknown;
  readonly channel?: string;
}

/** What `record` needs of a hub: `hub.subscribe` (live events of every channel, in bus order). */
export interface RecordableHub {
  subscribe(listener: (event: RecordableEvent) => void): () => void;
}

export interface RecordOptions {
  /** Event names that carry readings. Default `['reading']`. */
  readonly events?: readonly string[];
  /**
   * Turn one event into readings. Default: `data` is `{ sensor, value, at?, unit? }`
   * or an array of them; `at` (ms since the epoch, the device's clock) or,
   * when missing, the time the event arrived; the channel is the event's.
   */
  readonly readings?: (event: RecordableEvent) => Reading | readonly Reading[] | undefined;
  /** Units by sensor name, from the sensors' declarations (`{ temperature: '°C' }`), used when a reading names none. */
  readonly units?: Readonly<Record<string, string>>;
  /** Readings per write (one transaction). Default 2,000. */
  readonly batchSize?: number;
  /**
   * Longest a reading waits in memory before its batch is written, ms.
   * Default 500: a crash (kill -9, power) loses at most this much.
   */
  readonly flushIntervalMs?: number;
  /**
   * Most readings waiting to be written. Past it new readings are dropped,
   * counted and reported (`overload`), never queued without bound. Default 100,000.
   */
  readonly maxQueue?: number;
  /** The cursor's source name (one per bus). Default `'default'`. */
  readonly source?: string;
  /** Clock for readings without `at`, ms. Default `Date.now`. */
  readonly now?: () => number;
}

/** Counters since `record` started. */
export interface RecorderStats {
  /** Readings waiting to be written. */
  readonly queued: number;
  readonly written: number;
  readonly duplicates: number;
  readonly tooOld: number;
  readonly tooNew: number;
  /** Malformed readings (NaN, bad names …), never queued. */
  readonly refused: number;
  /** Readings dropped because the queue was full. */
  readonly dropped: number;
  /** Writes that failed (each retried until it succeeds or the recorder closes). */
  readonly failedWrites: number;
}

export type RecorderEvents = {
  /** A batch was stored (`eventId`: the newest event it held, now the cursor). */
  written: (result: WriteResult, eventId: string) => void;
  /** The queue is full: readings are being dropped from now on (and `error` gets a `queue_full`). */
  overload: (info: { readonly queued: number; readonly maxQueue: number }) => void;
  /** The queue has room again; `dropped` readings were lost during the overload. */
  recovered: (info: { readonly dropped: number }) => void;
  /** A reading of `event` was malformed (`invalid_payload`) and is not recorded. */
  refused: (error: BoardcastError, event: RecordableEvent) => void;
  /** A failed write (retried), or an overload (`queue_full`). Logged when nobody listens. */
  error: (error: unknown, where: string) => void;
};

interface Pending {
  readonly reading: Reading;
  readonly eventId: string;
}

const MAX_BACKOFF_MS = 5_000;

/** Records a hub's readings into a store; made by {@link record}. */
export class Recorder extends Emitter<RecorderEvents> {
  readonly #store: TelemetryStore;
  readonly #events: ReadonlySet<string>;
  readonly #extract: (event: RecordableEvent) => Reading | readonly Reading[] | undefined;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #maxQueue: number;
  readonly #source: string;
  readonly #unsubscribe: () => void;
  #queue: Pending[] = [];
  /** Readings ever queued, and ever taken off the queue (written): `flush` waits for a mark between them. */
  #enqueued = 0;
  #dequeued = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> | undefined;
  #overloaded = false;
  #episodeDropped = 0;
  #closed = false;
  #stats = { written: 0, duplicates: 0, tooOld: 0, tooNew: 0, refused: 0, dropped: 0, failedWrites: 0 };

  constructor(hub: RecordableHub, store: TelemetryStore, options: RecordOptions = {}) {
    super();
    this.#store = store;
    this.#events = new Set(options.events ?? ['reading']);
    const now = options.now ?? Date.now;
    const units = options.units ?? {};
    this.#extract = options.readings ?? ((event) => defaultReadings(event, now, units));
    this.#batchSize = positiveInt(options.batchSize ?? 2_000, 'batchSize');
    this.#flushIntervalMs = positiveInt(options.flushIntervalMs ?? 500, 'flushIntervalMs');
    this.#maxQueue = positiveInt(options.maxQueue ?? 100_000, 'maxQueue');
    this.#source = cleanSource(options.source);
    this.#unsubscribe = hub.subscribe((event) => this.#onEvent(event));
  }

  get stats(): RecorderStats {
    return { queued: this.#queue.length, ...this.#stats };
  }

  #onEvent(event: RecordableEvent): void {
    if (this.#closed || !this.#events.has(event.event)) return;
    let readings: readonly Reading[];
    try {
      const found = this.#extract(event);
      readings = found === undefined ? [] : Array.isArray(found) ? found : [found as Reading];
    } catch (error) {
      this.#refuse(error, event);
      return;
    }
    for (const reading of readings) {
      try {
        const clean = cleanReading(reading);
        if (this.#queue.length >= this.#maxQueue) {
          this.#drop();
          continue;
        }
        this.#queue.push({ reading: clean, eventId: event.id });
        this.#enqueued += 1;
      } catch (error) {
        this.#refuse(error, event);
      }
    }
    this.#schedule();
  }

  #refuse(error: unknown, event: RecordableEvent): void {
    this.#stats.refused += 1;
    const refusal =
      error instanceof BoardcastError
        ? error
        : new BoardcastError('invalid_payload', 'could not read readings from the event', { cause: error });
    this.emit('refused', refusal, event);
  }

  #drop(): void {
    this.#stats.dropped += 1;
    this.#episodeDropped += 1;
    if (this.#overloaded) return;
    this.#overloaded = true;
    const info = { queued: this.#queue.length, maxQueue: this.#maxQueue };
    this.emit('overload', info);
    this.emit(
      'error',
      new BoardcastError('queue_full', `telemetry write queue full (${this.#maxQueue} readings): dropping readings`, {
        details: info,
      }),
      'telemetry record',
    );
  }

  #schedule(): void {
    if (this.#queue.length === 0 || this.#writing) return;
    if (this.#queue.length >= this.#batchSize) {
      this.#startWriting();
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#startWriting();
    }, this.#flushIntervalMs);
  }

  #startWriting(): void {
    if (this.#writing || this.#queue.length === 0) return;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#writing = this.#drain().finally(() => {
      this.#writing = undefined;
      if (!this.#closed && this.#dequeued >= this.#flushMark) this.#schedule();
    });
  }

  /** Write batches while there is a full one (or the recorder is flushing); keep order; retry failures. */
  async #drain(): Promise<void> {
    let failures = 0;
    while (this.#queue.length > 0) {
      const batch = this.#queue.slice(0, this.#batchSize);
      const eventId = (batch[batch.length - 1] as Pending).eventId;
      try {
        const result = await this.#store.write(
          batch.map((p) => p.reading),
          { eventId, source: this.#source },
        );
        this.#queue.splice(0, batch.length);
        this.#dequeued += batch.length;
        failures = 0;
        this.#stats.written += result.written;
        this.#stats.duplicates += result.duplicates;
        this.#stats.tooOld += result.tooOld;
        this.#stats.tooNew += result.tooNew;
        this.emit('written', result, eventId);
        if (this.#overloaded && this.#queue.length <= this.#maxQueue / 2) {
          this.#overloaded = false;
          const dropped = this.#episodeDropped;
          this.#episodeDropped = 0;
          this.emit('recovered', { dropped });
        }
      } catch (error) {
        this.#stats.failedWrites += 1;
        this.emit('error', error, 'telemetry write');
        // Closed store or closing recorder: give up, the queue stays counted in stats.queued.
        if (this.#closed || (error instanceof BoardcastError && error.code === 'closed')) return;
        failures += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_BACKOFF_MS, 50 * 2 ** failures)));
      }
      // A partial batch waits for its timer, unless a flush waits for readings still queued.
      if (this.#queue.length < this.#batchSize && this.#dequeued >= this.#flushMark) return;
    }
  }

  /** The highest `#enqueued` a pending `flush` waits for. */
  #flushMark = 0;

  /**
   * Write every reading queued when it is called, whatever the batch timer
   * says (readings arriving meanwhile need not wait for it: a steady stream
   * cannot keep it from resolving). While the store fails it keeps retrying
   * (see `error`).
   */
  async flush(): Promise<void> {
    const mark = this.#enqueued;
    if (mark > this.#flushMark) this.#flushMark = mark;
    let triedClosed = false;
    for (;;) {
      if (this.#writing) {
        await this.#writing;
        continue;
      }
      if (this.#dequeued >= mark || this.#queue.length === 0 || triedClosed) return;
      triedClosed = this.#closed;
      this.#startWriting();
    }
  }

  /**
   * Stop listening and write what is queued, one attempt per batch.
   * Resolves with the number of readings that could not be written (0 when
   * all were stored).
   */
  async close(): Promise<number> {
    if (!this.#closed) {
      this.#closed = true;
      this.#unsubscribe();
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      await this.flush();
    }
    return this.#queue.length;
  }
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer >= 1`);
  return value;
}

function defaultReadings(
  event: RecordableEvent,
  now: () => number,
  units: Readonly<Record<string, string>>,
): Reading[] {
  const items = Array.isArray(event.data) ? event.data : [event.data];
  const channel = event.channel ?? DEFAULT_CHANNEL;
  const arrived = now();
  return items.map((item: unknown) => {
    if (item === null || typeof item !== 'object') {
      throw new BoardcastError('invalid_payload', `event "${event.event}" ${event.id} carries no reading object`);
    }
    const { sensor, value, at, unit } = item as Record<string, unknown>;
    const declared = typeof sensor === 'string' && Object.hasOwn(units, sensor) ? units[sensor] : undefined;
    return {
      channel,
      sensor: sensor as string,
      value: value as number,
      t: at === undefined ? arrived : (at as number),
      unit: typeof unit === 'string' ? unit : declared,
    };
  });
}

/**
 * Record every reading the hub publishes (on any channel, from this
 * instance or another one on a shared bus) into `store`, in batches, with
 * the bus event id of each batch's newest reading as the store's cursor.
 * The program writes nothing else: `record(hub, store)` once at start-up.
 */
export function record(hub: RecordableHub, store: TelemetryStore, options: RecordOptions = {}): Recorder {
  return new Recorder(hub, store, options);
}
