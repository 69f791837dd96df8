import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../src/index.js';
import { EncodedEvent, History } from '../src/wire.js';
import { fullGc } from './fixtures.js';

const ev = (seq: number) => new EncodedEvent(String(seq), 'tick', seq, String(seq));
const ids = (result: ReturnType<History['since']>) =>
  result.kind === 'events' ? result.events.map((e) => e.id) : result.kind;

describe('History', () => {
  it('empty history: resuming from 0 returns nothing, anything else is a gap', () => {
    const h = new History(3);
    expect(h.since(0)).toEqual({ kind: 'events', events: [] });
    expect(h.since(1).kind).toBe('gap');
  });

  it('returns exactly the missed events in order up to the exact boundary', () => {
    const h = new History(3);
    for (let s = 1; s <= 5; s++) h.push(s, ev(s));
    // retained: 3,4,5 → the oldest resumable id is 2
    expect(h.since(2)).toMatchObject({ kind: 'events' });
    const r = h.since(2);
    expect(r.kind === 'events' && r.events.map((e) => e.id)).toEqual(['3', '4', '5']);
    const none = h.since(5);
    expect(none.kind === 'events' && none.events).toEqual([]);
    expect(h.since(1).kind).toBe('gap'); // one past the boundary
    expect(h.since(6).kind).toBe('gap'); // from the future
    expect(h.since(-1).kind).toBe('gap');
    expect(h.since(2.5).kind).toBe('gap');
  });

  it('capacity 0 keeps nothing but still knows the head', () => {
    const h = new History(0);
    h.push(1, ev(1));
    expect(h.since(1)).toEqual({ kind: 'events', events: [] });
    expect(h.since(0).kind).toBe('gap');
  });

  it('refuses out-of-order pushes', () => {
    const h = new History(2);
    h.push(1, ev(1));
    expect(() => h.push(3, ev(3))).toThrow(RangeError);
  });
});

describe('History bookkeeping', () => {
  it('refuses a capacity that is negative or not an integer', () => {
    for (const capacity of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new History(capacity)).toThrow(new RangeError('history capacity must be an integer ≥ 0'));
    }
    expect(new History(0).capacity).toBe(0);
  });

  it('counts what it holds until full, then keeps the newest `capacity` events', () => {
    const h = new History(3);
    expect([h.size, h.firstSeq, h.lastSeq]).toEqual([0, 1, 0]);
    h.push(1, ev(1));
    expect([h.size, h.firstSeq, h.lastSeq]).toEqual([1, 1, 1]);
    h.push(2, ev(2));
    h.push(3, ev(3));
    expect([h.size, h.firstSeq, h.lastSeq]).toEqual([3, 1, 3]);
    h.push(4, ev(4));
    expect([h.size, h.firstSeq, h.lastSeq]).toEqual([3, 2, 4]);
    for (let s = 5; s <= 10; s++) h.push(s, ev(s));
    expect([h.size, h.firstSeq, h.lastSeq]).toEqual([3, 8, 10]);
    expect(ids(h.since(7))).toEqual(['8', '9', '10']);
    expect(ids(h.since(6))).toBe('gap');
  });

  it('with capacity 0 holds nothing and moves the first sequence past the head', () => {
    const h = new History(0);
    h.push(1, ev(1));
    h.push(2, ev(2));
    expect([h.size, h.firstSeq, h.lastSeq]).toEqual([0, 3, 2]);
    expect(ids(h.since(2))).toEqual([]);
    expect(ids(h.since(1))).toBe('gap');
  });

  it('with capacity 0 keeps no reference to what was pushed', async () => {
    const h = new History(0);
    // Pushed from a plain function: a suspended async frame could keep its last local alive.
    const push = (seq: number) => {
      const event = ev(seq);
      h.push(seq, event);
      return new WeakRef(event);
    };
    const refs = [push(1), push(2)];
    // WeakRef targets stay alive until the job that made them ends.
    await new Promise((resolve) => setImmediate(resolve));
    fullGc();
    expect(refs.filter((ref) => ref.deref())).toEqual([]);
    expect(h.lastSeq).toBe(2);
  });

  it('names the sequence it expected when a push is out of order', () => {
    const h = new History(2);
    h.push(1, ev(1));
    expect(() => h.push(1, ev(1))).toThrow(new RangeError('history expects sequence 2, got 1'));
    expect(() => h.push(3, ev(3))).toThrow(new RangeError('history expects sequence 2, got 3'));
  });

  it('treats NaN, infinities and fractions as a gap', () => {
    const h = new History(4);
    for (let s = 1; s <= 3; s++) h.push(s, ev(s));
    for (const seq of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1.5, -0.5]) {
      expect(h.since(seq)).toEqual({ kind: 'gap' });
    }
    expect(ids(h.since(0))).toEqual(['1', '2', '3']);
  });

  it('clear forgets every event but keeps the head, and history goes on from there', () => {
    const h = new History(3);
    for (let s = 1; s <= 3; s++) h.push(s, ev(s));
    h.clear();
    expect([h.size, h.firstSeq, h.lastSeq]).toEqual([0, 4, 3]);
    expect(ids(h.since(3))).toEqual([]);
    expect(ids(h.since(2))).toBe('gap');
    expect(ids(h.since(0))).toBe('gap');
    h.push(4, ev(4));
    expect(ids(h.since(3))).toEqual(['4']);
    expect(h.size).toBe(1);
  });
});

describe('MemoryBus ids', () => {
  it('are strictly increasing and carry the epoch', () => {
    const bus = new MemoryBus({ history: 10, epoch: 'abc' });
    const ids = Array.from({ length: 50 }, (_, i) => bus.publish('tick', i, String(i)));
    const seqs = ids.map((id) => Number(id.split('-')[1]));
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] as number);
    expect(ids[0]).toBe('abc-1');
    expect(bus.headId).toBe('abc-50');
  });

  it('treats ids from another epoch or garbage as a gap, and overflow as a gap', () => {
    const bus = new MemoryBus({ history: 3, epoch: 'e1' });
    for (let i = 0; i < 5; i++) bus.publish('tick', i, String(i));
    expect(bus.since('e0-4').kind).toBe('gap');
    expect(bus.since('garbage').kind).toBe('gap');
    expect(bus.since('e1-').kind).toBe('gap');
    expect(bus.since('e1-1').kind).toBe('gap');
    const r = bus.since('e1-3');
    expect(r.kind === 'events' && r.events.map((e) => e.data)).toEqual([3, 4]);
  });
});
