import type { Server } from 'node:http';
import { type Board, SimulatedBoard } from '@boardcast/board-adapter-gpio';

export interface DemoPins {
  /** Output driving the LED (the seeds used GPIO 5 and 12). */
  readonly led: number;
  /** Push-button, wired to ground (GPIO 0 is the ESP32's BOOT button). */
  readonly button: number;
  /** The extra input of the WiPy seed. */
  readonly input: number;
}

export const DEFAULT_PINS: DemoPins = { led: 5, button: 0, input: 4 };

export type BoardChoice =
  | { readonly kind: 'sim'; readonly latencyMs?: number }
  | { readonly kind: 'board'; readonly board: Board };

/** Build the board the demo drives. `server` is where a remote board's link would attach. */
export async function createBoard(choice: BoardChoice, _server: Server, _pins: DemoPins): Promise<Board> {
  switch (choice.kind) {
    case 'sim':
      return new SimulatedBoard({ id: 'sim', latencyMs: choice.latencyMs ?? 0 });
    case 'board':
      return choice.board;
  }
}
