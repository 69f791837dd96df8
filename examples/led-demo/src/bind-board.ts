import {
  type Board,
  Button,
  type ButtonOptions,
  bindBoardStatus,
  bindInputs,
  bindLed,
  Led,
} from '@boardcast/board-adapter-gpio';
import { BoardcastError, type CommandContext, type Hub } from '@boardcast/core';
import { type DemoInput, type DemoPins, demoInputs } from './boards.js';
import type { DemoContract, LedState } from './contract.js';

/** Registers the `led` command: on the hub directly, or through a Redis command router. */
export type RegisterLedCommand = (
  run: (state: LedState, context: CommandContext) => Promise<{ on: boolean }>,
) => () => void;

/**
 * The demo's wiring of one board into the hub: the LED (command and `led`
 * events), the two inputs (`pin_change`) and the board's status (`board`).
 * Only events are published; the contract's reducers fold them into the
 * state. Returns the function that undoes all of it.
 */
export function bindBoard(
  hub: Hub<DemoContract>,
  board: Board,
  pins: DemoPins,
  registerLed: RegisterLedCommand,
): () => void {
  const led = new Led(board, pins.led);
  // Wiring per board kind (demoInputs): on GPIO boards the button goes to
  // ground with the internal pull-up and the extra input uses a pull-down; a
  // Tasmota/ESPHome switch reports its own state, active high. Only local
  // GPIO bounces here: a simulated board has clean edges and the board agent
  // debounces on the device, so a second debounce would only add latency.
  const debounceMs = board.kind === 'linux-gpio' ? 20 : 0;
  const wiring = demoInputs(board, pins);
  const button = new Button(board, pins.button, buttonOptions(wiring.button, debounceMs));
  const input = new Button(board, pins.input, buttonOptions(wiring.input, debounceMs));
  const undo = [
    bindLed(hub, led, { command: false }),
    // The command is registered by the caller (directly, or through a Redis
    // router); its input is typed, not schema-checked, so it is checked here.
    registerLed(async (state, { signal, deadline }) => {
      const op = { signal, deadline };
      if (state === 'on') return { on: await led.turnOn(op) };
      if (state === 'off') return { on: await led.turnOff(op) };
      if (state === 'toggle') return { on: await led.toggle(op) };
      throw new BoardcastError('invalid_payload', 'state must be "on", "off" or "toggle"');
    }),
    bindInputs(hub, [button, input]),
    bindBoardStatus(hub, board),
  ];
  return () => {
    for (const fn of undo) fn();
    led.close();
    button.close();
    input.close();
  };
}

/** Button options for a wiring: `pull` picks the mode; `inverted` when the active level is not the pull's opposite. */
function buttonOptions(wiring: DemoInput, debounceMs: number): ButtonOptions {
  // Button: with a pull-up pressed is 0, otherwise 1; `inverted` flips that.
  const natural = wiring.pull === 'up' ? 0 : 1;
  return { pull: wiring.pull, debounceMs, inverted: wiring.activeLevel !== natural };
}
