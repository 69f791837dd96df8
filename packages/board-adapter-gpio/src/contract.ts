/**
 * The board vocabulary for contracts, safe in a browser bundle:
 * `@boardcast/board-adapter-gpio/contract`. Nothing here (or under it)
 * imports Node-only code — only `@boardcast/core`'s `typed` and types — so a
 * contract built from it bundles for `platform: 'browser'` with no externals.
 */
import { typed } from '@boardcast/core';
import type { BoardStatus, Level, Pin, SensorReading } from './board.js';

export type { BoardStatus, Level, Pin, SensorReading } from './board.js';

// ---------------------------------------------------------------- wire shapes

export type LedCommandState = 'on' | 'off' | 'toggle';
export interface LedCommandInput {
  readonly state: LedCommandState;
}
export interface LedState {
  readonly on: boolean;
}
export interface PinChange {
  /** BCM pin number on a Pi, GPIO number on an ESP32, or the board's line name. */
  readonly pin: Pin;
  /** The raw level after debounce (0 or 1), not "pressed". */
  readonly value: Level;
}
export interface BoardStatusChange {
  readonly id: string;
  readonly status: BoardStatus;
}

/**
 * Contract entries for the shapes the binding helpers publish, to spread
 * into `defineContract` (`events: { ...boardEvents, time: typed<string>() }`).
 * Any contract whose entries accept these shapes works too, zod or valibot.
 */
export const boardEvents = {
  led: typed<LedState>(),
  pin_change: typed<PinChange>(),
  reading: typed<SensorReading>(),
  board: typed<BoardStatusChange>(),
};

/** `led: ledCommand` in a contract's commands: `{ state: 'on'|'off'|'toggle' }` → `{ on }`. */
export const ledCommand = { input: typed<LedCommandInput>(), result: typed<LedState>() };

// ---------------------------------------------------------------- reducers

/** State with an LED: `{ led: { on } }` (other fields are kept). */
export interface WithLed {
  readonly led: LedState;
}
/** State with inputs keyed by pin (`String(pin)`); each keeps its own fields besides `level`. */
export interface WithInputs {
  readonly inputs: { readonly [pin: string]: { readonly level: Level } };
}
/** State with one board's status. */
export interface WithBoard {
  readonly board: { readonly status: BoardStatus };
}

/**
 * Reducers for {@link boardEvents}, generic over any state with the field
 * they fold into, to put in a contract's `reducers`:
 * `reducers: { led: boardReducers.led, pin_change: boardReducers.pin_change }`.
 *
 * - `led` → `state.led` becomes the confirmed `{ on }`.
 * - `pin_change` → `state.inputs[String(pin)].level`; a pin the state does
 *   not list is ignored (declare the inputs you show in the initial state).
 * - `board` → `state.board.status`.
 *
 * Each returns the same object when nothing changes.
 */
export const boardReducers = {
  led<S extends WithLed>(state: S, led: LedState): S {
    return state.led.on === led.on ? state : { ...state, led: { on: led.on } };
  },
  pin_change<S extends WithInputs>(state: S, change: PinChange): S {
    const key = String(change.pin);
    const input = Object.hasOwn(state.inputs, key) ? state.inputs[key] : undefined;
    if (!input || input.level === change.value) return state;
    return { ...state, inputs: { ...state.inputs, [key]: { ...input, level: change.value } } };
  },
  board<S extends WithBoard>(state: S, change: BoardStatusChange): S {
    return state.board.status === change.status
      ? state
      : { ...state, board: { ...state.board, status: change.status } };
  },
};
