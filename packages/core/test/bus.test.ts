// MemoryBus ids, ordering, listeners and per-channel history, and the hub's
// fallback id order compareStreamIds.
import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../src/index.js';
import { compareStreamIds } from '../src/wire.js';

const dataOf = (result: ReturnType<MemoryBus['since']>) =>
  result.kind === 'events' ? result.events.map((e) => e.data) : result.kind;

describe('MemoryBus', () => {
  it('refuses an epoch that is not alphanumeric, and makes up a base-36 one when given none', () => {
    for (const epoch of ['', 'a-b', 'é', 'a b']) {
      expect(() => new MemoryBus({ epoch })).toThrow(new TypeError('MemoryBus epoch must be alphanumeric'));
    }
    const epochs = new Set(Array.from({ length: 20 }, () => new MemoryBus().epoch));
    for (const epoch of epochs) expect(epoch).toMatch(/^[0-9a-z]{1,7}$/);
    // 32 random bits: twenty draws all equal would be a broken generator, not chance.
    expect(epochs.size).toBeGreaterThan(1);
  });

  it('names the origin <epoch>-0, which resumes every event so far', () => {
    const bus = new MemoryBus({ epoch: 'ep' });
    expect(bus.originId).toBe('ep-0');
    expect(bus.headId).toBeUndefined();
    bus.publish('tick', 1, '1');
    bus.publish('tick', 2, '2');
    expect(dataOf(bus.since(bus.originId))).toEqual([1, 2]);
  });

  it('delivers each event to every subscriber with its id, channel and JSON; a function subscribed twice hears twice', () => {
    const bus = new MemoryBus({ epoch: 'ep' });
    const seen: string[] = [];
    const listener = (e: { id: string; channel: string; json: string }) => seen.push(`${e.id} ${e.channel} ${e.json}`);
    const offA = bus.subscribe(listener);
    const offB = bus.subscribe(listener);
    expect(bus.listenerCount).toBe(2);
    expect(bus.publish('tick', 7, '7', 'b1')).toBe('ep-1');
    expect(seen).toEqual(['ep-1 b1 7', 'ep-1 b1 7']);
    offA();
    expect(bus.listenerCount).toBe(1);
    bus.publish('tick', 8, '8');
    expect(seen.slice(2)).toEqual(['ep-2 default 8']);
    offB();
    bus.close();
    expect(bus.listenerCount).toBe(0);
  });

  it('close drops every listener', () => {
    const bus = new MemoryBus({ epoch: 'ep' });
    const seen: unknown[] = [];
    bus.subscribe((e) => seen.push(e.data));
    bus.close();
    bus.publish('tick', 1, '1');
    expect(seen).toEqual([]);
    expect(bus.listenerCount).toBe(0);
  });

  it('keeps history per channel with global ids', () => {
    const bus = new MemoryBus({ epoch: 'ep', history: 10 });
    bus.publish('tick', 'a1', '"a1"', 'a');
    bus.publish('tick', 'b1', '"b1"', 'b');
    bus.publish('tick', 'a2', '"a2"', 'a');
    expect(dataOf(bus.since('ep-0', 'a'))).toEqual(['a1', 'a2']);
    expect(dataOf(bus.since('ep-1', 'a'))).toEqual(['a2']);
    expect(dataOf(bus.since('ep-2', 'b'))).toEqual([]);
    expect(bus.channelStats('a').events).toBe(2);
    expect(bus.channelStats('b').events).toBe(1);
  });

  it('forgets a removed channel: resuming it from before the removal is a gap; an id of another epoch changes nothing', () => {
    const bus = new MemoryBus({ epoch: 'ep', history: 10 });
    bus.publish('tick', 1, '1', 'a');
    const removal = bus.publish('~directory', {}, '{}', 'b');
    bus.removeChannel('a', 'other-9');
    expect(dataOf(bus.since('ep-0', 'a'))).toEqual([1]);
    bus.removeChannel('a', removal);
    expect(dataOf(bus.since('ep-0', 'a'))).toBe('gap');
    expect(bus.channelStats('a').events).toBe(0);
  });

  it('orders its own ids by sequence and refuses anything else', () => {
    const bus = new MemoryBus({ epoch: 'ep' });
    expect(bus.compareIds('ep-2', 'ep-10')).toBe(-8);
    expect(bus.compareIds('ep-10', 'ep-2')).toBe(8);
    expect(bus.compareIds('ep-3', 'ep-3')).toBe(0);
    for (const bad of ['other-2', '-2', 'ep-', 'ep-x', 'ep-1.5', 'ep-1234567890123456', 'ep2', 'xep-2']) {
      expect(bus.compareIds('ep-2', bad)).toBeUndefined();
      expect(bus.compareIds(bad, 'ep-2')).toBeUndefined();
      expect(bus.since(bad).kind).toBe('gap');
    }
    expect(bus.compareIds('ep-123456789012345', 'ep-1')).toBe(123456789012344);
  });
});

describe('compareStreamIds', () => {
  it('orders <ms>-<seq> ids numerically, leading zeros ignored', () => {
    expect(compareStreamIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareStreamIds('10-0', '9-0')).toBeGreaterThan(0);
    expect(compareStreamIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareStreamIds('10-10', '10-2')).toBeGreaterThan(0);
    expect(compareStreamIds('10-3', '10-2')).toBeGreaterThan(0);
    expect(compareStreamIds('10-2', '10-3')).toBeLessThan(0);
    expect(compareStreamIds('5-7', '5-7')).toBe(0);
    expect(compareStreamIds('007-01', '7-1')).toBe(0);
    expect(compareStreamIds('7-1', '007-01')).toBe(0);
    // Only leading zeros are ignored: the 0 inside 105 counts, on either side.
    expect(compareStreamIds('99-0', '105-0')).toBeLessThan(0);
    expect(compareStreamIds('105-0', '99-0')).toBeGreaterThan(0);
    expect(compareStreamIds('0-0', '00-0')).toBe(0);
    expect(compareStreamIds('0-1', '0-0')).toBeGreaterThan(0);
    expect(compareStreamIds('18446744073709551615-0', '18446744073709551614-9')).toBeGreaterThan(0);
  });

  it('is undefined for anything not of that form', () => {
    for (const bad of ['', '1', '1-', '-1', 'a-1', '1-a', '1-2-3', ' 1-2', '1-2 ', `${'1'.repeat(21)}-0`]) {
      expect(compareStreamIds(bad, '1-0')).toBeUndefined();
      expect(compareStreamIds('1-0', bad)).toBeUndefined();
    }
  });
});
