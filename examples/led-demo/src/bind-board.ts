import { type Board, Button, bindBoardStatus, bindInputs, bindLed, Led } from '@boardcast/board-adapter-gpio';
import type { Hub } from '@boardcast/core';
import type { DemoPins } from './boards.js';
import type { DemoContract, LedState } from './contract.js';

/** Registers the `led` command: on the hub directly, or through a Redis command router. */
export type RegisterLedCommand = (run: (state: LedState) => Promise<{ on: boolean }>) => () => void;

/**
 * The demo's wiring of one board into the hub: the LED (command, event,
 * state), the two inputs (`pin_change`, state) and the board's status
 * (`board`, state). Returns the function that undoes all of it.
 */
export function bindBoard(
  hub: Hub<DemoContract>,
  board: Board,
  pins: DemoPins,
  registerLed: RegisterLedCommand,
): () => void {
  const led = new Led(board, pins.led);
  // The button is wired to ground with the internal pull-up (ESP32 GPIO0,
  // the WiPy user button); the extra input uses a pull-down. Only local GPIO
  // bounces here: a simulated board has clean edges and the board agent
  // debounces on the device, so a second debounce would only add latency.
  const debounceMs = board.kind === 'linux-gpio' ? 20 : 0;
  const button = new Button(board, pins.button, { pull: 'up', debounceMs });
  const input = new Button(board, pins.input, { pull: 'down', debounceMs });
  const undo = [
    bindLed(hub, led, { command: false, state: (s, on) => ({ ...s, led: { on } }) }),
    registerLed(async (state) => ({
      on: await (state === 'toggle' ? led.toggle() : state === 'on' ? led.on() : led.off()),
    })),
    bindInputs(hub, [button, input], {
      state: (s, change) => {
        const key = String(change.pin);
        const previous = s.inputs[key];
        if (!previous) return s;
        return { ...s, inputs: { ...s.inputs, [key]: { ...previous, level: change.value } } };
      },
    }),
    bindBoardStatus(hub, board, {
      state: (s, change) => ({ ...s, board: { ...s.board, status: change.status } }),
    }),
  ];
  return () => {
    for (const fn of undo) fn();
    led.close();
    button.close();
    input.close();
  };
}
