// Log-bucketed latency histogram (1 % relative precision, µs), cheap enough
// to record every single delivery and mergeable across processes by adding
// the bucket arrays.
const GROWTH = Math.log(1.01);
const SIZE = 2400; // covers up to ~2.3e10 µs

export class Histogram {
  constructor() {
    this.counts = new Float64Array(SIZE);
    this.total = 0;
    this.max = 0;
  }

  record(us, times = 1) {
    const v = Math.max(us, 1);
    let i = Math.floor(Math.log(v) / GROWTH);
    if (i >= SIZE) i = SIZE - 1;
    this.counts[i] += times;
    this.total += times;
    if (v > this.max) this.max = v;
  }

  toJSON() {
    // Sparse form keeps IPC messages small.
    const buckets = [];
    for (let i = 0; i < SIZE; i++) if (this.counts[i] > 0) buckets.push(i, this.counts[i]);
    return { buckets, total: this.total, max: this.max };
  }

  static merge(parts) {
    const h = new Histogram();
    for (const part of parts) {
      if (!part) continue;
      for (let k = 0; k < part.buckets.length; k += 2) h.counts[part.buckets[k]] += part.buckets[k + 1];
      h.total += part.total;
      if (part.max > h.max) h.max = part.max;
    }
    return h;
  }

  /** Upper edge of the bucket holding the q-quantile, in ms. */
  quantileMs(q) {
    if (this.total === 0) return null;
    const target = q * this.total;
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts[i];
      if (seen >= target && this.counts[i] > 0) return Math.min(Math.exp((i + 1) * GROWTH), this.max) / 1000;
    }
    return this.max / 1000;
  }

  summary() {
    return {
      count: this.total,
      p50: round(this.quantileMs(0.5)),
      p99: round(this.quantileMs(0.99)),
      max: round(this.total ? this.max / 1000 : null),
    };
  }
}

function round(ms) {
  return ms === null ? null : Math.round(ms * 100) / 100;
}
