import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EncodedEvent } from '../src/encoded-event.js';
import { ChannelLog } from '../src/wire.js';
import { fullGc, heapAfterGc } from './fixtures.js';

// ChannelLog against a model written the plain way (arrays, scans): after
// any sequence of pushes, removals, clears and clock moves, every `since`,
// `stats` and the byte count agree (issue 28: the log's bounds were what
// Stryker found untested).

const OVERHEAD = 128;

interface ModelEntry {
  seq: number;
  bytes: number;
  at: number;
}
interface ModelLog {
  entries: ModelEntry[];
  evictions: number;
  watermark: number;
}

class Model {
  readonly logs = new Map<string, ModelLog>();
  last = 0;
  removedUpTo = 0;
  constructor(
    readonly perChannel: number,
    readonly maxAgeMs: number,
    readonly maxBytes: number,
  ) {}
  get bytes(): number {
    let total = 0;
    for (const log of this.logs.values()) for (const e of log.entries) total += e.bytes;
    return total;
  }
  #evictOldest(log: ModelLog): void {
    const entry = log.entries.shift() as ModelEntry;
    log.evictions++;
    log.watermark = entry.seq;
  }
  #budget(now: number): void {
    for (;;) {
      let oldest: { log: ModelLog; entry: ModelEntry } | undefined;
      for (const log of this.logs.values()) {
        const entry = log.entries[0];
        if (entry && (!oldest || entry.seq < oldest.entry.seq)) oldest = { log, entry };
      }
      if (!oldest) return;
      if (this.bytes <= this.maxBytes && oldest.entry.at >= now - this.maxAgeMs) return;
      this.#evictOldest(oldest.log);
    }
  }
  push(channel: string, seq: number, bytes: number, now: number): void {
    this.last = seq;
    let log = this.logs.get(channel);
    if (!log) {
      log = { entries: [], evictions: 0, watermark: 0 };
      this.logs.set(channel, log);
    }
    if (this.perChannel === 0) {
      log.watermark = seq;
      log.evictions++;
    } else {
      log.entries.push({ seq, bytes: bytes + OVERHEAD, at: now });
      if (log.entries.length > this.perChannel) this.#evictOldest(log);
    }
    this.#budget(now);
  }
  since(channel: string, seq: number, now: number): 'gap' | number[] {
    if (!Number.isSafeInteger(seq) || seq < 0 || seq > this.last) return 'gap';
    this.#budget(now);
    const log = this.logs.get(channel);
    if (!log) return this.removedUpTo > seq ? 'gap' : [];
    if (log.watermark > seq) return 'gap';
    return log.entries.filter((e) => e.seq > seq).map((e) => e.seq);
  }
  remove(channel: string, seq: number): void {
    if (seq > this.removedUpTo) this.removedUpTo = seq;
    this.logs.delete(channel);
  }
  clear(): void {
    for (const log of this.logs.values()) {
      if (log.entries.length > 0) log.watermark = this.last;
      log.entries = [];
    }
  }
  stats(channel: string) {
    const log = this.logs.get(channel);
    if (!log) return { events: 0, bytes: 0, evictions: 0 };
    return {
      events: log.entries.length,
      bytes: log.entries.reduce((a, e) => a + e.bytes, 0),
      evictions: log.evictions,
    };
  }
}

const event = (seq: number, bytes: number) => ({ seq, json: 'x'.repeat(bytes) }) as unknown as EncodedEvent;
const seqs = (result: ReturnType<ChannelLog['since']>) =>
  result.kind === 'gap' ? 'gap' : result.events.map((e) => (e as unknown as { seq: number }).seq);

type Op =
  | { op: 'push'; ch: number; bytes: number }
  | { op: 'tick'; ms: number }
  | { op: 'since'; ch: number; back: number }
  | { op: 'remove'; ch: number }
  | { op: 'clear' };

/** Run `ops` on a log and the model; compare after every step. */
function check(ops: readonly Op[], perChannel: number, maxAgeMs: number, maxBytes: number): void {
  let now = 1_000_000;
  const log = new ChannelLog({ perChannel, maxAgeMs, maxBytes, now: () => now });
  const model = new Model(perChannel, maxAgeMs, maxBytes);
  let seq = 0;
  const channels = ['c0', 'c1', 'c2', 'c3'];
  for (const o of ops) {
    if (o.op === 'push') {
      seq += 1;
      log.push(channels[o.ch] as string, seq, event(seq, o.bytes));
      model.push(channels[o.ch] as string, seq, o.bytes, now);
    } else if (o.op === 'tick') now += o.ms;
    else if (o.op === 'since') {
      const from = Math.max(0, seq - o.back);
      expect(seqs(log.since(channels[o.ch] as string, from))).toEqual(model.since(channels[o.ch] as string, from, now));
    } else if (o.op === 'remove') {
      seq += 1;
      log.push('removals', seq, event(seq, 0)); // the removal is an event of its own sequence
      model.push('removals', seq, 0, now);
      log.remove(channels[o.ch] as string, seq);
      model.remove(channels[o.ch] as string, seq);
    } else {
      log.clear();
      model.clear();
    }
    for (const ch of channels) expect(log.stats(ch)).toEqual(model.stats(ch));
    expect(log.bytes).toBe(model.bytes);
    expect(log.lastSeq).toBe(seq);
  }
}

/** An index into `check`'s four channels (`c0` … `c3`). */
const chArb = fc.integer({ min: 0, max: 3 });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('push' as const),
      ch: chArb,
      bytes: fc.integer({ min: 0, max: 300 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 4000 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('since' as const),
      ch: chArb,
      back: fc.integer({ min: 0, max: 30 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), ch: chArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }) },
);

describe('ChannelLog', () => {
  it('property: agrees with the model on since, stats and bytes under every bound (fixed seed)', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 120 }),
        fc.integer({ min: 0, max: 6 }),
        fc.constantFrom(2000, 10_000, Number.POSITIVE_INFINITY),
        fc.constantFrom(0, 500, 2000, 1_000_000),
        (ops, perChannel, maxAgeMs, maxBytes) => check(ops, perChannel, maxAgeMs, maxBytes),
      ),
      { seed: 28, numRuns: 300 },
    );
  });

  it('agrees with the model over thousands of events (its arrays are compacted on the way)', () => {
    const ops: Op[] = [];
    for (let i = 0; i < 5000; i++) {
      ops.push({ op: 'push', ch: i % 7 === 0 ? 1 : 0, bytes: (i * 37) % 200 });
      if (i % 50 === 0) ops.push({ op: 'since', ch: 0, back: 12 }, { op: 'since', ch: 1, back: 40 });
      if (i % 900 === 0) ops.push({ op: 'tick', ms: 1500 });
    }
    check(ops, 80, 5000, 40_000);
    check(ops, 10, Number.POSITIVE_INFINITY, 1_000_000_000);
    // One quiet event at the head of the eviction order while the count evicts
    // thousands behind it: the order is filtered of its dead entries (more than
    // half of it), then the quiet event ages out and the budget takes over.
    const quiet: Op[] = [{ op: 'push', ch: 2, bytes: 10 }];
    for (let i = 0; i < 6000; i++) {
      quiet.push({ op: 'push', ch: i % 3 === 0 ? 1 : 0, bytes: (i * 37) % 200 });
      if (i % 400 === 0) quiet.push({ op: 'since', ch: 2, back: 6000 }, { op: 'since', ch: 0, back: 15 });
      if (i === 3000) quiet.push({ op: 'tick', ms: 10_000 });
      if (i === 4500) quiet.push({ op: 'remove', ch: 1 });
    }
    check(quiet, 8, 5000, 1_000_000_000);
    check(quiet, 8, 5000, 20_000);
  });

  it('a channel that lost nothing since L is no gap, however old; one that lost an event after L is', () => {
    let now = 0;
    const log = new ChannelLog({ perChannel: 2, now: () => now });
    log.push('quiet', 1, event(1, 1));
    for (let seq = 2; seq <= 10; seq++) log.push('noisy', seq, event(seq, 1));
    now += 60_000;
    expect(seqs(log.since('quiet', 1))).toEqual([]);
    expect(seqs(log.since('quiet', 0))).toEqual([1]);
    expect(seqs(log.since('noisy', 7))).toBe('gap'); // 8 was evicted
    expect(seqs(log.since('noisy', 8))).toEqual([9, 10]);
    expect(seqs(log.since('noisy', 11))).toBe('gap'); // newer than anything appended
    expect(seqs(log.since('noisy', -1))).toBe('gap');
    expect(seqs(log.since('noisy', 1.5))).toBe('gap');
    expect(log.channelCount).toBe(2);
  });

  it('an event exactly maxAgeMs old is kept; one millisecond older is evicted (a gap after it)', () => {
    let now = 0;
    const log = new ChannelLog({ maxAgeMs: 1000, now: () => now });
    log.push('a', 1, event(1, 1));
    log.push('a', 2, event(2, 1));
    now = 1000;
    expect(seqs(log.since('a', 0))).toEqual([1, 2]);
    now = 1001;
    expect(seqs(log.since('a', 0))).toBe('gap');
    expect(seqs(log.since('a', 1))).toBe('gap'); // 2 went too
    expect(seqs(log.since('a', 2))).toEqual([]);
    expect(log.stats('a')).toEqual({ events: 0, bytes: 0, evictions: 2 });
  });

  it('holds no evicted event: a quiet channel at the head of the eviction order keeps nothing the count evicted reachable', async () => {
    // A full collection, then: is each evicted event still reachable from the log?
    const log = new ChannelLog({ perChannel: 10 });
    log.push('quiet', 1, event(1, 10)); // stays the oldest retained event for 15 min
    // Pushed from a plain function: a suspended async frame could keep its last local alive.
    const pushAll = (channel: string, from: number, to: number) => {
      const refs: WeakRef<object>[] = [];
      for (let seq = from; seq <= to; seq++) {
        const e = event(seq, 100);
        refs.push(new WeakRef(e));
        log.push(channel, seq, e);
      }
      return refs;
    };
    const refs = pushAll('noisy', 2, 3000);
    const removed = pushAll('gone', 3001, 3005);
    log.remove('gone', 3006);
    // WeakRef targets stay alive until the job that made them ends.
    await new Promise((resolve) => setImmediate(resolve));
    fullGc();
    const alive = refs.flatMap((ref, i) => (ref.deref() ? [i + 2] : []));
    expect(alive).toEqual([2991, 2992, 2993, 2994, 2995, 2996, 2997, 2998, 2999, 3000]);
    expect(removed.filter((ref) => ref.deref())).toEqual([]);
    expect(seqs(log.since('noisy', 2990))).toEqual(alive);
    expect(seqs(log.since('quiet', 0))).toEqual([1]);
  });

  it('refuses a sequence that does not move forward, and bad bounds at construction', () => {
    const log = new ChannelLog();
    log.push('a', 5, event(5, 1));
    expect(() => log.push('a', 5, event(5, 1))).toThrow(RangeError);
    expect(() => log.push('b', 4, event(4, 1))).toThrow(/after 5, got 4/);
    expect(() => new ChannelLog({ perChannel: -1 })).toThrow(/perChannel must be an integer ≥ 0/);
    expect(() => new ChannelLog({ perChannel: 1.5 })).toThrow(RangeError);
    expect(() => new ChannelLog({ maxAgeMs: 0 })).toThrow(/maxAgeMs must be > 0/);
    expect(() => new ChannelLog({ maxBytes: -1 })).toThrow(/maxBytes must be ≥ 0/);
    expect(new ChannelLog({ perChannel: 0, maxBytes: 0 }).perChannel).toBe(0);
  });
});

describe('ChannelLog edges', () => {
  it('a resume from a negative, fractional or NaN sequence is a gap, even on a channel that never lost an event', () => {
    const log = new ChannelLog();
    log.push('a', 1, event(1, 1));
    log.push('a', 2, event(2, 1));
    // Without the check a binary search from such a sequence would replay everything.
    for (const seq of [-1, 0.5, Number.NaN]) expect(log.since('a', seq)).toEqual({ kind: 'gap' });
    expect(seqs(log.since('a', 0))).toEqual([1, 2]);
  });

  it('a channel without a log answers no events (not a gap) when nothing was removed after the sequence', () => {
    const log = new ChannelLog();
    log.push('a', 1, event(1, 1));
    expect(log.since('never', 0)).toEqual({ kind: 'events', events: [] });
    log.push('removals', 2, event(2, 1)); // the removal is an event of its own sequence
    log.remove('gone', 2);
    expect(log.since('never', 2)).toEqual({ kind: 'events', events: [] });
    expect(log.since('never', 1)).toEqual({ kind: 'gap' });
  });

  it('an earlier removal reported late does not move the removal mark back', () => {
    const log = new ChannelLog();
    for (let seq = 1; seq <= 6; seq++) log.push('a', seq, event(seq, 1));
    log.remove('x', 5);
    log.remove('y', 3);
    // Anything before the newest removal is a gap for a channel with no log.
    expect(log.since('x', 4)).toEqual({ kind: 'gap' });
    expect(log.since('y', 4)).toEqual({ kind: 'gap' });
    expect(log.since('y', 5)).toEqual({ kind: 'events', events: [] });
  });

  it('clear makes a gap of channels that held events, not of one whose events had all been evicted', () => {
    let now = 0;
    const log = new ChannelLog({ maxAgeMs: 1000, now: () => now });
    log.push('old', 1, event(1, 1));
    now = 2000;
    log.push('kept', 2, event(2, 1)); // evicts 'old' 1 by age: its watermark is 1
    log.push('kept', 3, event(3, 1));
    expect(log.stats('old')).toEqual({ events: 0, bytes: 0, evictions: 1 });
    log.clear();
    expect(log.since('old', 1)).toEqual({ kind: 'events', events: [] }); // lost nothing after 1
    expect(log.since('kept', 2)).toEqual({ kind: 'gap' });
    expect(log.since('kept', 3)).toEqual({ kind: 'events', events: [] });
  });

  it('an event that fills the byte budget exactly is kept; one byte more evicts it', () => {
    const budget = 10 + OVERHEAD;
    const log = new ChannelLog({ maxBytes: budget });
    log.push('a', 1, event(1, 10));
    expect(log.bytes).toBe(budget);
    expect(seqs(log.since('a', 0))).toEqual([1]);
    const over = new ChannelLog({ maxBytes: budget - 1 });
    over.push('a', 1, event(1, 10));
    expect(over.bytes).toBe(0);
    expect(seqs(over.since('a', 0))).toBe('gap');
  });
});

describe('ChannelLog memory', () => {
  // What the log holds stays bounded by what it retains, however many events
  // went through it: evicted entries leave its per-channel arrays and its
  // eviction order. Each case pushes 500,000 events; anything kept per event
  // (an array slot, 8 bytes, or an evicted entry, ~80) would be 4 MB or more.
  const LIMIT = 2 * 1024 * 1024;
  const one = event(0, 10);

  it.each([
    ['one channel, 10 kept', 10, 1, false],
    ['one channel, 100 kept', 100, 1, false],
    ['40 channels in turn, 100 kept each', 100, 40, false],
    ['a quiet event at the head, 40 channels of 100 behind it, then one noisy channel', 100, 40, true],
  ])('%s: holds no more than it retains after 500,000 events', async (_name, perChannel, channels, quiet) => {
    const before = await heapAfterGc();
    const log = new ChannelLog({ perChannel });
    let seq = 0;
    if (quiet) log.push('quiet', ++seq, one);
    if (quiet) {
      for (let c = 0; c < channels; c++) for (let i = 0; i < perChannel; i++) log.push(`c${c}`, ++seq, one);
      while (seq < 500_000) log.push('noisy', ++seq, one);
    } else {
      while (seq < 500_000) log.push(`c${seq % channels}`, ++seq, one);
    }
    const after = await heapAfterGc();
    expect(log.lastSeq).toBe(500_000);
    expect(after - before).toBeLessThan(LIMIT);
  });
});
