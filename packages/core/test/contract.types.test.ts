import { describe, expectTypeOf, it } from 'vitest';
import type { ClientContract, CommandInput, CommandResult, EventData, EventName, StateOf } from '../src/index.js';
import { createHub, defineContract, typed } from '../src/index.js';
import { initialState, ledContract } from './fixtures.js';

type C = typeof ledContract;

describe('contract types', () => {
  it('infers event names and payloads from schemas and plain types', () => {
    expectTypeOf<EventName<C>>().toEqualTypeOf<'led' | 'pin_change' | 'time'>();
    expectTypeOf<EventData<C, 'led'>>().toEqualTypeOf<{ on: boolean }>();
    expectTypeOf<EventData<C, 'pin_change'>>().toEqualTypeOf<{ pin: string; value: 0 | 1 }>();
    expectTypeOf<EventData<C, 'time'>>().toEqualTypeOf<string>();
  });

  it('infers command inputs, results and state', () => {
    expectTypeOf<CommandInput<C, 'led'>>().toEqualTypeOf<{ state: 'on' | 'off' | 'toggle' }>();
    expectTypeOf<CommandResult<C, 'led'>>().toEqualTypeOf<{ on: boolean }>();
    expectTypeOf<CommandResult<C, 'blink'>>().toEqualTypeOf<{ done: boolean }>();
    expectTypeOf<StateOf<C>>().toEqualTypeOf<{ led: { on: boolean }; inputs: Record<string, 0 | 1> }>();
  });

  // Compiled, never run: the assertions are the compile errors themselves.
  it('rejects misspelled names and wrong payloads at compile time', () => {
    expectTypeOf(compileOnly).toBeFunction();
  });
});

function compileOnly() {
  {
    const hub = createHub(ledContract, { state: initialState });
    hub.publish('led', { on: true });
    // @ts-expect-error misspelled event
    hub.publish('ledd', { on: true });
    // @ts-expect-error wrong payload type
    hub.publish('led', { on: 'yes' });
    // @ts-expect-error missing field
    hub.publish('pin_change', { pin: 'button' });

    hub.handle('led', (input) => {
      expectTypeOf(input).toEqualTypeOf<{ state: 'on' | 'off' | 'toggle' }>();
      return { on: input.state === 'on' };
    });
    // @ts-expect-error misspelled command
    hub.handle('lde', () => ({ on: true }));
    // @ts-expect-error wrong result type
    hub.handle('blink', () => ({ done: 'yes' }));

    expectTypeOf(hub.call('led', { state: 'on' })).resolves.toEqualTypeOf<{ on: boolean }>();
    // @ts-expect-error input outside the enum
    hub.call('led', { state: 'dim' });
    expectTypeOf(hub.state).toEqualTypeOf<StateOf<C>>();
    // @ts-expect-error state of the wrong shape
    hub.setState({ led: true });
  }
}

describe('reducer types', () => {
  it('types each reducer from its event and the state; a wrong one is a compile error', () => {
    expectTypeOf(reducerCompileOnly).toBeFunction();
  });
});

function reducerCompileOnly() {
  const events = { led: typed<{ on: boolean }>(), time: typed<string>() };
  const state = typed<{ led: { on: boolean }; time: string }>();
  const ok = defineContract({
    events,
    commands: {},
    state,
    reducers: {
      led: (s, led) => {
        expectTypeOf(s).toEqualTypeOf<{ led: { on: boolean }; time: string }>();
        expectTypeOf(led).toEqualTypeOf<{ on: boolean }>();
        return { ...s, led };
      },
    },
  });
  expectTypeOf(ok.reducers.led).toBeFunction();
  const client: ClientContract<typeof ok> = { events: { led: 1, time: 1 }, reducers: ok.reducers };
  // @ts-expect-error a client contract must name every event of the contract
  const missing: ClientContract<typeof ok> = { events: { led: 1 } };
  defineContract({
    events,
    commands: {},
    state,
    // @ts-expect-error reducer declared with the wrong data type
    reducers: { led: (s, on: { on: string }) => ({ ...s, led: { on: on.on === 'yes' } }) },
  });
  defineContract({
    events,
    commands: {},
    state,
    // @ts-expect-error a field the event does not have
    reducers: { time: (s, t) => ({ ...s, time: t.label }) },
  });
  defineContract({
    events,
    commands: {},
    state,
    // @ts-expect-error a reducer must return the state
    reducers: { time: (_s, t) => ({ time: t }) },
  });
  defineContract({
    events,
    commands: {},
    state,
    // @ts-expect-error a reducer for an event the contract does not have
    reducers: { tim: (s: { led: { on: boolean }; time: string }) => s },
  });
  return [client, missing];
}
