import { defineContract, typed } from '@boardcast/core';

export type LedState = 'on' | 'off' | 'toggle';
export type Level = 0 | 1;

/** One input row on the page: the button and the extra input pin of the seeds. */
export interface InputInfo {
  readonly name: string;
  readonly level: Level;
  /** The level that means "pressed" / "active" (0 for a button wired to ground with a pull-up). */
  readonly activeLevel: Level;
}

export interface DemoState {
  readonly led: { readonly on: boolean };
  /** Keyed by pin number (as a string: JSON object keys). */
  readonly inputs: Readonly<Record<string, InputInfo>>;
  readonly time: string;
  readonly board: { readonly id: string; readonly kind: string; readonly status: 'online' | 'offline' };
}

/**
 * What flows each way and how it folds into the state. The page imports this
 * file too: the reducers below run on the server (every instance) and in
 * the browser's mirror, so neither writes any folding of its own. Nothing
 * here imports a schema library: the LED command checks its input in its
 * handler (`bind-board.ts`), so the page bundle stays small.
 */
export const contract = defineContract({
  events: {
    led: typed<{ on: boolean }>(),
    pin_change: typed<{ pin: number | string; value: Level }>(),
    time: typed<string>(),
    board: typed<{ id: string; status: 'online' | 'offline' }>(),
  },
  commands: {
    led: { input: typed<{ state: LedState }>(), result: typed<{ on: boolean }>() },
  },
  state: typed<DemoState>(),
  reducers: {
    led: (state, led) => (state.led.on === led.on ? state : { ...state, led }),
    // Only the inputs the page shows (declared in the initial state) have a row.
    pin_change: (state, { pin, value }) => {
      const key = String(pin);
      const input = Object.hasOwn(state.inputs, key) ? state.inputs[key] : undefined;
      if (!input || input.level === value) return state;
      return { ...state, inputs: { ...state.inputs, [key]: { ...input, level: value } } };
    },
    time: (state, time) => ({ ...state, time }),
    board: (state, { id, status }) => ({ ...state, board: { ...state.board, id, status } }),
  },
});

export type DemoContract = typeof contract;
