export interface SeriesPoint {
  readonly value: number;
  /** Milliseconds since the epoch. */
  readonly at: number;
}

export interface SeriesStats {
  readonly count: number;
  readonly sum: number;
  /** `null` when empty. */
  readonly avg: number | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly last: SeriesPoint | null;
}

/**
 * The last N numeric readings with their timestamps, and count/sum/avg/min/max
 * kept current as values arrive and leave: O(1) queries, amortized O(1)
 * `push` (min and max use monotonic queues; the sum uses Kahan compensation
 * so it does not drift over millions of readings).
 */
export class SeriesBuffer {
  readonly capacity: number;
  readonly #values: Float64Array;
  readonly #times: Float64Array;
  /** Total pushes ever; the oldest retained has sequence `#pushed - size`. */
  #pushed = 0;
  #size = 0;
  #sum = 0;
  #compensation = 0;
  #evictions = 0;
  // Monotonic queues of sequence numbers; `#minHead`/`#maxHead` index the front.
  #minQueue: number[] = [];
  #minHead = 0;
  #maxQueue: number[] = [];
  #maxHead = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('SeriesBuffer capacity must be an integer ≥ 1');
    this.capacity = capacity;
    this.#values = new Float64Array(capacity);
    this.#times = new Float64Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  get sum(): number {
    return this.#size === 0 ? 0 : this.#sum + this.#compensation;
  }

  get avg(): number | null {
    return this.#size === 0 ? null : this.sum / this.#size;
  }

  get min(): number | null {
    return this.#size === 0 ? null : this.#valueAt(this.#minQueue[this.#minHead] as number);
  }

  get max(): number | null {
    return this.#size === 0 ? null : this.#valueAt(this.#maxQueue[this.#maxHead] as number);
  }

  get last(): SeriesPoint | null {
    if (this.#size === 0) return null;
    const seq = this.#pushed - 1;
    return { value: this.#valueAt(seq), at: this.#timeAt(seq) };
  }

  /** Add a reading; the oldest leaves when full. Non-finite values are refused. */
  push(value: number, at: number = Date.now()): void {
    if (!Number.isFinite(value)) throw new RangeError('SeriesBuffer only holds finite numbers');
    if (this.#size === this.capacity) this.#evictOldest();
    const seq = this.#pushed++;
    const slot = seq % this.capacity;
    this.#values[slot] = value;
    this.#times[slot] = at;
    this.#size++;
    if (this.#evictions >= this.capacity) {
      this.#evictions = 0;
      this.#resum();
    } else {
      this.#add(value);
    }

    while (this.#minQueue.length > this.#minHead && this.#valueAt(this.#minQueue.at(-1) as number) >= value) {
      this.#minQueue.pop();
    }
    this.#minQueue.push(seq);
    while (this.#maxQueue.length > this.#maxHead && this.#valueAt(this.#maxQueue.at(-1) as number) <= value) {
      this.#maxQueue.pop();
    }
    this.#maxQueue.push(seq);
  }

  stats(): SeriesStats {
    return { count: this.size, sum: this.sum, avg: this.avg, min: this.min, max: this.max, last: this.last };
  }

  /** Oldest first. */
  toArray(): SeriesPoint[] {
    const out: SeriesPoint[] = [];
    for (let seq = this.#pushed - this.#size; seq < this.#pushed; seq++) {
      out.push({ value: this.#valueAt(seq), at: this.#timeAt(seq) });
    }
    return out;
  }

  /** The newest `n` readings, oldest first. */
  latest(n: number): SeriesPoint[] {
    const all = this.toArray();
    return all.slice(Math.max(0, all.length - n));
  }

  toJSON(): { points: SeriesPoint[]; stats: SeriesStats } {
    return { points: this.toArray(), stats: this.stats() };
  }

  clear(): void {
    this.#size = 0;
    this.#sum = 0;
    this.#compensation = 0;
    this.#evictions = 0;
    this.#minQueue = [];
    this.#minHead = 0;
    this.#maxQueue = [];
    this.#maxHead = 0;
  }

  #valueAt(seq: number): number {
    return this.#values[seq % this.capacity] as number;
  }

  #timeAt(seq: number): number {
    return this.#times[seq % this.capacity] as number;
  }

  #evictOldest(): void {
    const seq = this.#pushed - this.#size;
    this.#add(-this.#valueAt(seq));
    this.#size--;
    this.#evictions++;
    if (this.#minQueue[this.#minHead] === seq) this.#minHead++;
    if (this.#maxQueue[this.#maxHead] === seq) this.#maxHead++;
    // Compact occasionally so the queues stay O(capacity) in memory.
    if (this.#minHead > this.capacity) {
      this.#minQueue = this.#minQueue.slice(this.#minHead);
      this.#minHead = 0;
    }
    if (this.#maxHead > this.capacity) {
      this.#maxQueue = this.#maxQueue.slice(this.#maxHead);
      this.#maxHead = 0;
    }
    if (this.#size === 0) {
      this.#sum = 0;
      this.#compensation = 0;
    }
  }

  /** Kahan–Babuška (Neumaier) summation step. */
  #add(x: number): void {
    const t = this.#sum + x;
    if (Math.abs(this.#sum) >= Math.abs(x)) this.#compensation += this.#sum - t + x;
    else this.#compensation += x - t + this.#sum;
    this.#sum = t;
  }

  /**
   * Adding and removing values cancels catastrophically when magnitudes
   * differ wildly (1e16 then 1); recomputing once per `capacity` evictions
   * bounds the error and stays amortized O(1).
   */
  #resum(): void {
    this.#sum = 0;
    this.#compensation = 0;
    for (let seq = this.#pushed - this.#size; seq < this.#pushed; seq++) this.#add(this.#valueAt(seq));
  }
}
