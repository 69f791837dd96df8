import { describe, expectTypeOf, it } from 'vitest';
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
});
