// History's bookkeeping (size, first and last sequence), its refusals and
// clear() (mutation testing, issue 28).
import { describe, expect, it } from 'vitest';
import { EncodedEvent, History } from '../src/wire.js';

const ev = (seq: number) => new EncodedEvent(String(seq), 'tick', seq, String(seq));
const ids = (result: ReturnType<History['since']>) =>
  result.kind === 'events' ? result.events.map((e) => e.id) : result.kind;

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
