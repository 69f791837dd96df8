import { boardEvents, boardReducers, ledCommand, simulateCommand } from '@boardcast/board-adapter-gpio/contract';
import { defineContract, typed } from '@boardcast/core';

/** The latest reading of each sensor of a board. */
export type Readings = Record<string, { readonly value: number; readonly at: number }>;

/** One board's state: every board of the fleet is a channel with this state. */
export interface BoardState {
  readonly led: { readonly on: boolean };
  /** The push-button on pin 0, keyed by pin as `boardReducers.pin_change` folds it. */
  readonly inputs: Record<string, { readonly level: 0 | 1 }>;
  readonly board: { readonly status: 'online' | 'offline' };
  readonly readings: Readings;
}

/**
 * The fleet's contract describes one board (one channel): its LED, its
 * button, its status and its readings. Shared by the server and the page
 * (nothing here reaches Node-only code).
 */
export const contract = defineContract({
  events: {
    led: boardEvents.led,
    pin_change: boardEvents.pin_change,
    board: boardEvents.board,
    reading: boardEvents.reading,
  },
  commands: { led: ledCommand, simulate: simulateCommand },
  state: typed<BoardState>(),
  reducers: {
    led: boardReducers.led,
    pin_change: boardReducers.pin_change,
    board: boardReducers.board,
    reading: (state, r) => ({ ...state, readings: { ...state.readings, [r.sensor]: { value: r.value, at: r.at } } }),
  },
});

export type FleetContract = typeof contract;

/** Pin of each board's LED and push-button. */
export const LED_PIN = 5;
export const BUTTON_PIN = 0;

/** Every board starts here (released pull-up button: level 1; offline until it says otherwise). */
export const initialBoard: BoardState = {
  led: { on: false },
  inputs: { [String(BUTTON_PIN)]: { level: 1 } },
  board: { status: 'offline' },
  readings: {},
};
