import { createHub, defineContract, typed } from '@boardcast/core';
import { describe, expectTypeOf, it } from 'vitest';
import { type BindSimulatorOptions, bindSimulator, ledCommand, SimulatedBoard, simulateCommand } from '../src/index.js';

const state = typed<{ n: number }>();
const withSimulate = defineContract({ events: {}, commands: { simulate: simulateCommand }, state, reducers: {} });
const renamed = defineContract({ events: {}, commands: { drive: simulateCommand }, state, reducers: {} });
const without = defineContract({ events: {}, commands: { led: ledCommand }, state, reducers: {} });

describe('bindSimulator types', () => {
  it('the command name is optional with `simulate: simulateCommand`, required and checked otherwise', () => {
    expectTypeOf<BindSimulatorOptions<typeof withSimulate>>().toEqualTypeOf<{ readonly command?: 'simulate' }>();
    expectTypeOf<BindSimulatorOptions<typeof renamed>>().toEqualTypeOf<{ readonly command: 'drive' }>();
    expectTypeOf<BindSimulatorOptions<typeof without>>().toEqualTypeOf<{ readonly command: never }>();
  });

  // Compiled, never run: the assertions are the compile errors themselves.
  it('rejects a missing or unfitting command name at compile time', () => {
    expectTypeOf(compileOnly).toBeFunction();
  });
});

function compileOnly() {
  const board = new SimulatedBoard({ id: 'b' });
  const hub = createHub(withSimulate, { state: { n: 0 } });
  expectTypeOf(bindSimulator(hub.channel('b'), board)).toEqualTypeOf<() => void>();
  bindSimulator(hub, board, { command: 'simulate' });

  const other = createHub(renamed, { state: { n: 0 } });
  bindSimulator(other.channel('b'), board, { command: 'drive' });
  // @ts-expect-error the contract has no `simulate`: the name is required
  bindSimulator(other, board);

  const none = createHub(without, { state: { n: 0 } });
  // @ts-expect-error `led` takes { state }, not { pin, value }
  bindSimulator(none, board, { command: 'led' });
}
