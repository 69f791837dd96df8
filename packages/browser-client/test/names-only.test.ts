import type { Reducers } from '@boardcast/core';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { WebSocket } from 'ws';
import { type BoardcastClient, connect } from '../src/index.js';
import { connectSse } from '../src/sse.js';
import { connectWs } from '../src/ws.js';
import { cleanups, type contract, runCleanups, startHub, type TestContract, tick, until } from './helpers.js';

afterEach(runCleanups);

// What a page passes instead of the server's contract value: the event names
// as keys and the reducers, nothing that holds a schema. (Written out here,
// not taken from `contract.reducers`, so the test proves no contract value is needed.)
const reducers: Reducers<TestContract> = {
  led: (state, led) => ({ ...state, led }),
  tick: (state, n) => ({ ...state, tick: n }),
};
const names = { events: { led: 1, pin_change: 1, tick: 1 }, reducers } as const;

describe('a names-only contract through the public API', () => {
  for (const transport of ['sse', 'ws'] as const) {
    it(`${transport}: subscribes to the named events and folds them with the given reducers`, async () => {
      const { hub, server } = await startHub();
      // `eventSource: 'native'` would need a browser; in Node the SSE side streams with fetch,
      // and the event names matter on the native path only (one listener per name).
      const client =
        transport === 'ws'
          ? connect<typeof contract>(server.url, names, { transport, WebSocket, reconnect: false })
          : connect<typeof contract>(server.url, names, { transport, reconnect: false });
      cleanups.push(() => client.close());
      const ticks: number[] = [];
      client.on('tick', (n) => ticks.push(n));
      await client.whenReady();
      for (let i = 1; i <= 5; i++) await tick(hub, i);
      await hub.publish('led', { on: true });
      await until(() => client.state?.led.on === true);
      expect(ticks).toEqual([1, 2, 3, 4, 5]);
      expect(client.state).toEqual(hub.state);
    });
  }

  it('type-checks the names and reducers against the contract type', () => {
    expectTypeOf(namesOnlyCompileOnly).toBeFunction();
  });
});

// Compiled, never run.
function namesOnlyCompileOnly() {
  const client = connect<typeof contract>('/api', names);
  expectTypeOf(client).toEqualTypeOf<BoardcastClient<typeof contract>>();
  client.on('tick', (n) => expectTypeOf(n).toEqualTypeOf<number>());
  expectTypeOf(client.command('led', { state: 'on' })).resolves.toEqualTypeOf<{ on: boolean }>();
  connectSse<TestContract>('/api', names);
  connectWs<TestContract>('/api', names, { queue: { limit: 1 } });
  // The reducers are optional: without them the state is the latest snapshot.
  connect<TestContract>('/api', { events: { led: 1, pin_change: 1, tick: 1 } });

  // @ts-expect-error an event the contract does not declare
  connect<TestContract>('/api', { events: { led: 1, pin_change: 1, tick: 1, temperature: 1 } });
  // @ts-expect-error every event of the contract must be named
  connect<TestContract>('/api', { events: { led: 1, tick: 1 } });
  connect<TestContract>('/api', {
    events: names.events,
    // @ts-expect-error a reducer for an event the contract does not declare
    reducers: { temperature: (state: unknown) => state },
  });
  connect<TestContract>('/api', {
    events: names.events,
    reducers: {
      // @ts-expect-error the reducer's data type is not the event's
      tick: (state, n: string) => ({ ...state, tick: Number(n) }),
    },
  });
  connect<TestContract>('/api', {
    events: names.events,
    reducers: {
      // @ts-expect-error the reducer must return the state type
      led: (_state, led) => led,
    },
  });
}
