import {
  boardEvents,
  boardReducers,
  type LedCommandState,
  type Level,
  ledCommand,
} from '@boardcast/board-adapter-gpio/contract';
import { defineContract, typed } from '@boardcast/core';

export type { Level } from '@boardcast/board-adapter-gpio/contract';
/** The LED command's input state. */
export type LedState = LedCommandState;
/** One input row on the page: the button and the extra input pin of the seeds. */
export interface InputInfo {
  readonly name: string;
  /** Where it is, in the board's terms: `GPIO 0`, `GPIO 17 (ID_SDA)`, a Tasmota `Switch1`. */
  readonly label: string;
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
 * What flows each way and how it folds into the state. The board's
 * vocabulary (events, the LED command, reducers) comes from
 * `@boardcast/board-adapter-gpio/contract`, the package's browser-safe entry,
 * so the page imports this file too: the reducers run on the server (every
 * instance) and in the browser's mirror, and neither writes any folding of
 * its own. Nothing here imports a schema library: the LED command checks its
 * input in its handler (`bind-board.ts`), so the page bundle stays small.
 */
export const contract = defineContract({
  events: {
    led: boardEvents.led,
    pin_change: boardEvents.pin_change,
    time: typed<string>(),
    board: boardEvents.board,
  },
  commands: { led: ledCommand },
  state: typed<DemoState>(),
  reducers: {
    led: boardReducers.led,
    // Only the inputs the page shows (declared in the initial state) have a row.
    pin_change: boardReducers.pin_change,
    time: (state, time) => ({ ...state, time }),
    // The board's id is fixed in the initial state; an event changes its status.
    board: boardReducers.board,
  },
});

export type DemoContract = typeof contract;
