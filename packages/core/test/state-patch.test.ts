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

  it('a deleted key that is not a string is ignored, not taken as its string form', async () => {
    const { hub, bus } = hubWith<Record<string, unknown>>({ 1: 'one', a: 1 });
    bus.publish(STATE, { s: { b: 2 }, d: [1, 'a'] }, '');
    expect(hub.state).toEqual({ 1: 'one', b: 2 });
    await hub.close();
  });

  it('an undefined state is replaced whole, and sent as null, never as an empty body', async () => {
    const { hub, published } = hubWith<unknown>(undefined);
    expect(hub.snapshot().json).toBe('null');
    await hub.setState({ a: 1 });
    expect(published).toEqual([{ v: { a: 1 } }]);
    expect(hub.snapshot().json).toBe('{"a":1}');
    await hub.setState(undefined);
    expect(hub.state).toBeUndefined();
    expect(hub.snapshot().json).toBe('null');
    await hub.close();
  });

  it('a state that JSON cannot hold is refused with invalid_payload, the serializer error as its cause', async () => {
    const { hub, published } = hubWith<{ n: unknown }>({ n: 1 });
    hub.on('error', () => undefined);
    const error = await hub.setState({ n: 10n }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid_payload', message: 'state is not JSON-serializable' });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    expect(published).toEqual([]);
    await hub.close();
  });

  it('the newest 256 setState frames are kept for replays; a replay needing an older one is a gap', async () => {
    const bus = new MemoryBus({ history: 1_000 });
    const contract = defineContract({ events: { tick: typed<number>() }, commands: {}, state: typed<{ n: number }>() });
    const hub = createHub(contract, { state: { n: 0 }, bus });
    const start = await hub.publish('tick', 0);
    for (let n = 1; n <= 256; n++) await hub.setState({ n });
    // The in-memory bus answers at once.
    const replay = await hub.since(start);
    expect(replay.kind).toBe('events');
    expect(replay.kind === 'events' && replay.events.map((e) => e.event)).toEqual(Array(256).fill(STATE));
    await hub.setState({ n: 257 });
    expect(await hub.since(start)).toEqual({ kind: 'gap' });
    await hub.close();
  });
});
