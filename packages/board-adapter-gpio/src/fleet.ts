import type { Channel, ContractSpec } from '@boardcast/core';
import type { HubTarget } from './bind.js';
import type { Board, BoardCapabilities } from './board.js';
import type { SimulateInput } from './contract.js';
import type { SimulatedBoard } from './simulated-board.js';

export interface RegisterBoardOptions {
  /** Firmware or software version shown in the directory. */
  readonly firmware?: string | undefined;
  /** A human name for the directory (default: none, pages show the id). */
  readonly name?: string | undefined;
  /** The kind shown in the directory (default `board.kind`: `simulated`, `linux-gpio`, `remote`, `mqtt` …). */
  readonly kind?: string | undefined;
}

/** The capabilities a directory entry lists: pin numbers/names with their modes, and sensor names. */
export function describeCapabilities(capabilities: BoardCapabilities): {
  readonly pins: readonly { readonly pin: string | number; readonly modes: readonly string[] }[];
  readonly sensors: readonly string[];
} {
  return {
    pins: capabilities.pins.map((p) => ({ pin: p.pin, modes: [...p.modes] })),
    sensors: [...capabilities.sensors],
  };
}

/**
 * Make `board` a channel of the hub's directory: its entry gets `kind`,
 * `status`, `firmware`, `capabilities` and a coarse `lastSeen` (coming
 * online and every reading the board pushes count as seen, at most every
 * `lastSeenIntervalMs` of the hub). The status follows the board's own
 * `status` events. Pair it with the bind helpers on the same channel
 * (`bindLed(channel, …)`, `bindBoardStatus(channel, board)` so status is also
 * state of the channel that every page and instance folds). Returns the
 * unregister function (the entry stays; `channel.remove()` removes it).
 */
export function registerBoard<C extends ContractSpec>(
  channel: Channel<C>,
  board: Board,
  options: RegisterBoardOptions = {},
): () => void {
  const describe = () =>
    void channel.describe({
      kind: options.kind ?? board.kind,
      status: board.status,
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.firmware === undefined ? {} : { firmware: options.firmware }),
      capabilities: describeCapabilities(board.capabilities),
      lastSeen: Date.now(),
    });
  describe();
  const offStatus = board.on('status', () => {
    void channel.describe({ status: board.status });
    if (board.status === 'online') void channel.seen();
  });
  const offReading = board.on('reading', () => void channel.seen());
  return () => {
    offStatus();
    offReading();
  };
}

export interface BindSimulatorOptions {
  /** The command name (default `simulate`; its contract entry is `simulateCommand`). */
  readonly command?: string;
}

/**
 * Let a page or a script drive a `SimulatedBoard`'s inputs through a hub
 * command (`{ pin, value }`: a button press is the pin's active level, a
 * sensor's analog pin any number), so simulated fleets are driven the way
 * real boards are watched, under the same access policy. Returns the
 * function that removes the handler.
 */
export function bindSimulator<C extends ContractSpec>(
  target: HubTarget<C>,
  board: SimulatedBoard,
  options: BindSimulatorOptions = {},
): () => void {
  const handle = (
    target as unknown as {
      handle(command: string, fn: (input: unknown) => unknown): () => void;
    }
  ).handle.bind(target);
  return handle(options.command ?? 'simulate', (input) => {
    const { pin, value } = input as SimulateInput;
    board.setInput(pin, value);
    return { pin, value };
  });
}
