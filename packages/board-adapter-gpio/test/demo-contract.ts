/**
 * The LED demo's vocabulary and parts, as the binding tests use them: a
 * contract with the board events folded into `led`, `inputs`, `temp` and
 * `board`, and a simulated board with an Led on pin 5, a Button on pin 0
 * and a `temp` Sensor, all set up.
 */
import { defineContract, typed } from '@boardcast/core';
import { Button, boardEvents, boardReducers, Led, ledCommand, Sensor, SimulatedBoard } from '../src/index.js';

export const demoContract = defineContract({
  events: { ...boardEvents, time: typed<string>() },
  commands: { led: ledCommand },
  state: typed<{
    led: { on: boolean };
    inputs: Record<string, { level: 0 | 1 }>;
    temp: number | null;
    board: { status: 'online' | 'offline' };
  }>(),
  reducers: {
    led: boardReducers.led,
    pin_change: boardReducers.pin_change,
    board: boardReducers.board,
    reading: (s, r) => ({ ...s, temp: r.value }),
  },
});

export const demoState = () => ({
  led: { on: false },
  inputs: { 0: { level: 0 as 0 | 1 } },
  temp: null,
  board: { status: 'offline' as const },
});

/** Board `sim` whose `temp` sensor reads `temp`, with its Led (pin 5) and Button (pin 0, no debounce) ready. */
export async function demoBoard(temp: number): Promise<{
  board: SimulatedBoard;
  led: Led;
  button: Button;
  sensor: Sensor;
}> {
  const board = new SimulatedBoard({ sensors: { temp: () => temp } });
  const led = new Led(board, 5);
  const button = new Button(board, 0, { debounceMs: 0 });
  const sensor = new Sensor(board, { source: { sensor: 'temp' } });
  await Promise.all([led.ready, button.ready]);
  return { board, led, button, sensor };
}
