// Events may be named like the members every object inherits (`toString`,
// `constructor`, `valueOf` …: any [A-Za-z]… name is legal). Only a reducer
// the map holds as its own property may fold such an event, never the
// inherited method.
import { describe, expect, it } from 'vitest';
import { createHub, defineContract, typed } from '../src/index.js';

const events = { toString: typed<number>(), constructor: typed<number>(), n: typed<number>() };
const state = typed<{ n: number }>();

describe('events named like inherited Object members', () => {
  it('a reducer given for `toString` (an own key of the literal) folds that event', async () => {
    const contract = defineContract({
      events,
      commands: {},
      state,
      reducers: { toString: (s, n) => ({ n: s.n + n }), constructor: (s, n) => ({ n: s.n * n }) },
    });
    expect(Object.keys(contract.reducers)).toEqual(['toString', 'constructor']);
    const hub = createHub(contract, { state: { n: 1 } });
    await hub.publish('toString', 2);
    await hub.publish('constructor', 10);
    expect(hub.state).toEqual({ n: 30 });
    await hub.close();
  });

  it('a map without `toString` leaves that event to no reducer: the inherited method is never called', async () => {
    const contract = defineContract({
      events,
      commands: {},
      state,
      // The types' known limit: TypeScript checks the missing optional
      // `toString` key against the `toString` every object inherits. At run time only own keys count.
      // @ts-expect-error `() => string` is no reducer
      reducers: { n: (s: { n: number }, n: number) => ({ n: s.n + n }) },
    });
    expect(Object.keys(contract.reducers)).toEqual(['n']);
    const initial = { n: 1 };
    const hub = createHub(contract, { state: initial });
    await hub.publish('toString', 2);
    await hub.publish('constructor', 3);
    expect(hub.state).toBe(initial);
    await hub.publish('n', 2);
    expect(hub.state).toEqual({ n: 3 });
    await hub.close();
  });
});
