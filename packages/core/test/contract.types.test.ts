import { describe, expectTypeOf, it } from 'vitest';
import type { CommandInput, CommandResult, EventData, EventName, StateOf } from '../src/index.js';
import { createHub } from '../src/index.js';
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
