/**
 * The board vocabulary for contracts, safe in a browser bundle:
 * `@boardcast/board-adapter-gpio/contract`. Nothing here (or under it)
 * imports Node-only code — only `@boardcast/core`'s types — so a contract
 * built from it bundles for `platform: 'browser'` with no externals.
 */
import type { StandardSchemaV1 } from '@boardcast/core';
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

// ---------------------------------------------------------------- validators

/**
 * The smallest Standard Schema (https://standardschema.dev) validator: sync,
 * vendor `boardcast`. `check` returns the value to hand on (a fresh object
 * holding only the declared fields, so nothing else reaches a handler) or a
 * message for the path it failed at.
 */
function schema<T>(check: (value: unknown) => T | { readonly issue: string; readonly path?: string }) {
  const entry: StandardSchemaV1<T, T> = {
    '~standard': {
      version: 1,
      vendor: 'boardcast',
      validate(value) {
        const result = check(value);
        if (result !== null && typeof result === 'object' && 'issue' in result) {
          const { issue, path } = result as { issue: string; path?: string };
          return { issues: [path === undefined ? { message: issue } : { message: issue, path: [path] }] };
        }
        return { value: result as T };
      },
    },
  };
  return entry;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);
const expected = (what: string, path?: string) =>
  path === undefined ? { issue: `expected ${what}` } : { issue: `expected ${what}`, path };
const isPin = (pin: unknown): pin is Pin =>
  (typeof pin === 'number' && Number.isSafeInteger(pin) && pin >= 0) ||
  (typeof pin === 'string' && pin.length > 0 && pin.length <= 64);

const ledState = schema<LedState>((value) => {
  if (!isObject(value)) return expected('an object { on: boolean }');
  if (typeof value.on !== 'boolean') return expected('a boolean', 'on');
  return { on: value.on };
});

const pinChange = schema<PinChange>((value) => {
  if (!isObject(value)) return expected('an object { pin, value: 0 | 1 }');
  if (!isPin(value.pin)) return expected('a pin: a non-negative integer or a line name (1-64 characters)', 'pin');
  if (value.value !== 0 && value.value !== 1) return expected('0 or 1', 'value');
  return { pin: value.pin, value: value.value };
});

const sensorReading = schema<SensorReading>((value) => {
  if (!isObject(value)) return expected('an object { sensor, value, at }');
  if (typeof value.sensor !== 'string' || value.sensor === '') return expected('a sensor name', 'sensor');
  if (typeof value.value !== 'number' || !Number.isFinite(value.value)) return expected('a finite number', 'value');
  if (typeof value.at !== 'number' || !Number.isFinite(value.at)) return expected('a time in ms', 'at');
  return { sensor: value.sensor, value: value.value, at: value.at };
});

const boardStatusChange = schema<BoardStatusChange>((value) => {
  if (!isObject(value)) return expected("an object { id, status: 'online' | 'offline' }");
  if (typeof value.id !== 'string') return expected('a board id', 'id');
  if (value.status !== 'online' && value.status !== 'offline') return expected("'online' or 'offline'", 'status');
  return { id: value.id, status: value.status };
});

const ledCommandInput = schema<LedCommandInput>((value) => {
  if (!isObject(value)) return expected("an object { state: 'on' | 'off' | 'toggle' }");
  if (value.state !== 'on' && value.state !== 'off' && value.state !== 'toggle') {
    return expected("'on', 'off' or 'toggle'", 'state');
  }
  return { state: value.state };
});

/**
 * Contract entries for the shapes the binding helpers publish, to spread
 * into `defineContract` (`events: { ...boardEvents, time: typed<string>() }`).
 * Each is a small Standard Schema validator written for its shape (no schema
 * library): the hub checks events with them when `validateEvents` is on, and
 * a client's mirror may too. Any contract whose entries accept these shapes
 * works as well, zod or valibot.
 *
 * - `led`: `{ on: boolean }`
 * - `pin_change`: `{ pin, value: 0 | 1 }`, `pin` a non-negative integer or a line name
 * - `reading`: `{ sensor: string, value: number, at: number }` (finite numbers)
 * - `board`: `{ id: string, status: 'online' | 'offline' }`
 *
 * Anything else is refused with `invalid_payload` naming the field; the
 * value handed on holds only these fields.
 */
export const boardEvents = {
  led: ledState,
  pin_change: pinChange,
  reading: sensorReading,
  board: boardStatusChange,
};

/**
 * `led: ledCommand` in a contract's commands: `{ state: 'on'|'off'|'toggle' }`
 * → `{ on }`. Both sides are validated at run time: a `null` body, a missing
 * `state` or any other value is 400 `invalid_payload` on every transport
 * before the handler runs.
 */
export const ledCommand = { input: ledCommandInput, result: ledState };

/** Input of {@link simulateCommand}: drive a simulated board's input pin (0/1 digital, any finite number analog). */
export interface SimulateInput {
  readonly pin: Pin;
  readonly value: number;
}

const simulateInput = schema<SimulateInput>((value) => {
  if (!isObject(value)) return expected('an object { pin, value }');
  if (!isPin(value.pin)) return expected('a pin: a non-negative integer or a line name (1-64 characters)', 'pin');
  if (typeof value.value !== 'number' || !Number.isFinite(value.value)) return expected('a finite number', 'value');
  return { pin: value.pin, value: value.value };
});

/**
 * `simulate: simulateCommand` in a contract's commands: `{ pin, value }` →
 * `{ pin, value }`, the input of a `SimulatedBoard` set from a page or a
 * script (`bindSimulator`), under the same access policy as every command.
 */
export const simulateCommand = { input: simulateInput, result: simulateInput };

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
