import { describe, expect, it } from 'vitest';
import { createHub, defineContract, MemoryBus, typed } from '../src/index.js';

// `setState` publishes what changed as a `~state` patch: `{ s: set, d: deleted }`
// between two plain objects, `{ v: next }` for anything else (arrays, class
// instances, primitives). Every instance folds the patch the same way, so a
// patch from another instance that is not one is ignored, never thrown on.

const STATE = '~state';

function hubWith<S>(state: S) {
  const bus = new MemoryBus();
  const published: unknown[] = [];
  bus.subscribe((event) => {
    if (event.event === STATE) published.push(event.data);
  });
  const contract = defineContract({ events: {}, commands: {}, state: typed<S>() });
  return { hub: createHub(contract, { state, bus }), bus, published };
}

class Point {
  constructor(readonly x: number) {}
}

describe('state patches', () => {
  it('an array is replaced whole, and stays an array', async () => {
    const { hub, published } = hubWith<number[]>([1, 2]);
    await hub.setState([1, 3]);
    expect(published).toEqual([{ v: [1, 3] }]);
    expect(Array.isArray(hub.state)).toBe(true);
    expect(hub.state).toEqual([1, 3]);
    await hub.close();
  });

  it('an object that is not plain (a class instance) is replaced whole', async () => {
    const { hub, published } = hubWith<{ x: number }>({ x: 1 });
    await hub.setState(new Point(2));
    expect(published).toEqual([{ v: new Point(2) }]);
    expect(hub.state).toBeInstanceOf(Point);
    await hub.close();
  });

  it('null and primitives are replaced whole; the same value again publishes nothing', async () => {
    const { hub, published } = hubWith<{ a: number } | null | number>({ a: 1 });
    await hub.setState(null);
    await hub.setState(null);
    await hub.setState(7);
    await hub.setState({ a: 1 });
    expect(published).toEqual([{ v: null }, { v: 7 }, { v: { a: 1 } }]);
    expect(hub.state).toEqual({ a: 1 });
    await hub.close();
  });

  it('an object without a prototype is plain: only its changed fields go', async () => {
    const { hub, published } = hubWith<Record<string, number>>({ a: 1, b: 2 });
    const next = Object.assign(Object.create(null) as Record<string, number>, { a: 1, b: 3 });
    await hub.setState(next);
    expect(published).toEqual([{ s: { b: 3 } }]);
    expect(hub.state).toEqual({ a: 1, b: 3 });
    await hub.close();
  });

  it('fields set on a state that is not a plain object start from an empty one', async () => {
    const { hub, bus } = hubWith<unknown>([1, 2]);
    bus.publish(STATE, { s: { a: 1 } }, '');
    expect(hub.state).toEqual({ a: 1 });
    await hub.close();
  });

  it('a patch that is not one (another instance, a bug) leaves the state as it was', async () => {
    const { hub, bus } = hubWith<Record<string, unknown>>({ a: 1, b: 2, l: 3 });
    for (const data of [5, 'x', null, [1], { s: null, d: 'ab' }, { s: 5, d: 'l' }, { s: [1], d: {} }]) {
      bus.publish(STATE, data, JSON.stringify(data));
    }
    expect(hub.state).toEqual({ a: 1, b: 2, l: 3 });
    // …and a real one still applies after them.
    bus.publish(STATE, { s: { c: 4 }, d: ['a'] }, '');
    expect(hub.state).toEqual({ b: 2, l: 3, c: 4 });
    await hub.close();
  });
});
