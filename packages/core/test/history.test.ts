import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../src/index.js';
import { EncodedEvent, History } from '../src/wire.js';

const ev = (seq: number) => new EncodedEvent(String(seq), 'tick', seq, String(seq));

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
