import { describe, expectTypeOf, it } from 'vitest';
import { createClient } from '../src/client.js';
import { type BoardcastClient, connect, type StatusChange } from '../src/index.js';
import { connectSse } from '../src/sse.js';
import { contract, type TestContract } from './helpers.js';

describe('types inferred from the contract', () => {
  it('types events, state, commands and options', () => {
    const client = connect('http://127.0.0.1:1/api', contract, { transport: 'ws', reconnect: false });
    expectTypeOf(client).toEqualTypeOf<BoardcastClient<TestContract>>();
    client.on('led', (data, id) => {
      expectTypeOf(data).toEqualTypeOf<{ on: boolean }>();
      expectTypeOf(id).toEqualTypeOf<string>();
    });
    client.on('tick', (n) => expectTypeOf(n).toEqualTypeOf<number>());
    client.on('snapshot', (s) => expectTypeOf(s.led.on).toEqualTypeOf<boolean>());
    client.on('reset', (reason) => expectTypeOf(reason).toEqualTypeOf<string>());
    client.onStatus((c) => expectTypeOf(c).toEqualTypeOf<StatusChange>());
    expectTypeOf(client.state).toEqualTypeOf<
      { led: { on: boolean }; tick: number; pins: Record<string, 0 | 1> } | undefined
    >();
    const led = client.command('led', { state: 'toggle' });
    expectTypeOf(led).resolves.toEqualTypeOf<{ on: boolean }>();
    // close() below rejects the commands started here; only their types matter.
    led.catch(() => undefined);
    // @ts-expect-error not an event of the contract
    client.on('temperature', () => undefined);
    // @ts-expect-error wrong input
    client.command('led', { state: 'blink' }).catch(() => undefined);
    // @ts-expect-error not a command of the contract
    client.command('reboot', {}).catch(() => undefined);
    // @ts-expect-error WS-only option on the SSE transport
    connect('http://127.0.0.1:1/api', contract, { transport: 'sse', queue: { limit: 1 } });
    // @ts-expect-error unknown event in the filter
    connectSse('http://127.0.0.1:1/api', contract, { events: ['nope'] });
    client.close();
  });

  it('gives the state without undefined once the snapshot arrived', () => {
    expectTypeOf(stateCompileOnly).toBeFunction();
  });
});

// Compiled, never run.
async function stateCompileOnly() {
  const client = connect('/api', contract);
  const state = await client.whenReady();
  expectTypeOf(state).toEqualTypeOf<{ led: { on: boolean }; tick: number; pins: Record<string, 0 | 1> }>();
  expectTypeOf(state.led.on).toEqualTypeOf<boolean>();
  // @ts-expect-error before whenReady the state may be undefined
  client.state.led.on;
  // @ts-expect-error folding is the contract's: a page passes no reducers
  connect('/api', contract, { reducers: {} });

  // The names and reducers are enough as a value; the types come from the contract.
  const transport = { name: 'sse', dial: () => () => undefined, command: async () => null, stop() {} } as const;
  const light = createClient<TestContract>({ events: { led: 1, pin_change: 1, tick: 1 } }, transport, {});
  expectTypeOf(light).toEqualTypeOf<BoardcastClient<TestContract>>();
  // @ts-expect-error every event name must be there
  createClient<TestContract>({ events: { led: 1 } }, transport, {});
  createClient<TestContract>(
    // @ts-expect-error reducers are typed from the contract
    { events: { led: 1, pin_change: 1, tick: 1 }, reducers: { tick: (s: number) => s } },
    transport,
    {},
  );
}
