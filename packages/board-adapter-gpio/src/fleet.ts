import { BoardcastError, type Channel, type ContractSpec } from '@boardcast/core';
import { type CommandNamesFor, type HubTarget, loose } from './bind.js';
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
 *
 * One board holds a channel of a hub at a time, whatever its source (board
 * link, MQTT, simulated, Linux GPIO): a channel registered by another board
 * throws `busy` naming the holder (`details: { channel, board }`), until the
 * holder is unregistered (or, through `board.register`, closed). The same
 * board registering again (a board link agent that reconnects) takes its
 * channel back, and so does a board with the holder's id while the holder is
 * offline (the link forgot the old object and made a new one); two boards
 * with one id both online is `busy`. Throws `closed` on a closed hub; once
 * the hub closes, the board's events no longer reach the channel.
 */
export function registerBoard<C extends ContractSpec>(
  channel: Channel<C>,
  board: Board,
  options: RegisterBoardOptions = {},
): () => void {
  return attachBoard(channel, board, options, {});
}

/** Who holds a channel of a hub: one registration, see {@link registerBoard}. */
interface Holder {
  readonly board: Board;
  /** True once the holder's board is closed: its channel is free. */
  readonly closed: () => boolean;
  /** End the holder's whole registration (another registration takes the channel). */
  readonly release: () => void;
}

/** Per hub (weakly: a dropped hub takes its table with it), channel id → holder. */
const holders = new WeakMap<object, Map<string, Holder>>();

/** How a package-internal caller ({@link registerOn}) ties its registration to the channel's holder. */
export interface AttachHooks {
  /** True once the board is closed (default: never known, so the holder stays until unregistered). */
  readonly closed?: (() => boolean) | undefined;
  /** The caller's whole unregister, run when another registration takes the channel (default: this one's). */
  readonly release?: (() => void) | undefined;
}

/**
 * {@link registerBoard} with the hooks `board.register` needs. Package-internal
 * (not exported from the package root).
 */
export function attachBoard<C extends ContractSpec>(
  channel: Channel<C>,
  board: Board,
  options: RegisterBoardOptions,
  hooks: AttachHooks,
): () => void {
  const hub = channel.hub;
  if (hub.closed) {
    throw new BoardcastError('closed', `hub is closed: board "${board.id}" cannot register as channel "${channel.id}"`);
  }
  const table = holders.get(hub) ?? new Map<string, Holder>();
  holders.set(hub, table);
  const held = table.get(channel.id);
  if (
    held &&
    held.board !== board &&
    !held.closed() &&
    (held.board.id !== board.id || held.board.status === 'online')
  ) {
    throw new BoardcastError(
      'busy',
      `channel "${channel.id}" is registered by board "${held.board.id}" (${held.board.kind}); unregister it first`,
      { details: { channel: channel.id, board: held.board.id } },
    );
  }
  // The same board again, or its successor: the previous registration ends
  // here, so the channel is never followed twice and its unregister or close
  // no longer touches the channel.
  held?.release();

  // A failed directory write (a shared bus full or gone: `queue_full`,
  // `closed`) is already reported on the hub's `error` event; the promise
  // must not also become an unhandled rejection, which ends a Node process.
  const reported = (p: Promise<void>) => void p.catch(() => undefined);
  const describe = () =>
    reported(
      channel.describe({
        kind: options.kind ?? board.kind,
        status: board.status,
        ...(options.name === undefined ? {} : { name: options.name }),
        ...(options.firmware === undefined ? {} : { firmware: options.firmware }),
        capabilities: describeCapabilities(board.capabilities),
        lastSeen: Date.now(),
      }),
    );
  // A closed hub has dropped its error listeners: a write now would only
  // print an "unhandled error" trace for an outcome the program chose.
  const offStatus = board.on('status', () => {
    if (hub.closed) return;
    reported(channel.describe({ status: board.status }));
    if (board.status === 'online') reported(channel.seen());
  });
  const offReading = board.on('reading', () => {
    if (!hub.closed) reported(channel.seen());
  });
  let attached = true;
  const unregister = () => {
    if (!attached) return;
    attached = false;
    offStatus();
    offReading();
    if (table.get(channel.id) === holder) table.delete(channel.id);
  };
  const holder: Holder = { board, closed: hooks.closed ?? (() => false), release: hooks.release ?? unregister };
  table.set(channel.id, holder);
  describe();
  return unregister;
}

/** Command names of `C` that {@link bindSimulator} can serve: validated input `SimulateInput`, result `SimulateInput`. */
type SimulateCommandName<C extends ContractSpec> = CommandNamesFor<C, SimulateInput, SimulateInput>;

/**
 * Options of {@link bindSimulator}. `command` is the command name (default
 * `simulate`); it is optional when the contract has `simulate:
 * simulateCommand`, required otherwise, and must name a command whose input
 * and result are `{ pin, value }` — a contract without one does not compile.
 */
export type BindSimulatorOptions<C extends ContractSpec = ContractSpec> = ['simulate'] extends [SimulateCommandName<C>]
  ? { readonly command?: SimulateCommandName<C> }
  : { readonly command: SimulateCommandName<C> };

/**
 * Let a page or a script drive a `SimulatedBoard`'s inputs through a hub
 * command (`{ pin, value }`: a button press is the pin's active level, a
 * sensor's analog pin any number), so simulated fleets are driven the way
 * real boards are watched, under the same access policy. The hub validates
 * the input first (`invalid_payload`); a pin the board does not have, or an
 * output pin, is `unsupported`, and a digital pin's value other than 0 or 1
 * is `invalid_payload` (both from `SimulatedBoard.setInput`). Returns the
 * function that removes the handler.
 */
export function bindSimulator<C extends ContractSpec>(
  target: HubTarget<C>,
  board: SimulatedBoard,
  ...rest: {} extends BindSimulatorOptions<C> ? [options?: BindSimulatorOptions<C>] : [options: BindSimulatorOptions<C>]
): () => void {
  const command: string = rest[0]?.command ?? 'simulate';
  // The signature proved that `command` names a command of C whose validated
  // input is a SimulateInput and whose result accepts one; TypeScript cannot
  // carry that through the generic `handle`, so the handler goes through the
  // bind helpers' one loose view, and the hub has validated the input before it runs.
  return loose(target).handle(command, (input) => {
    const { pin, value } = input as SimulateInput;
    board.setInput(pin, value);
    return { pin, value };
  });
}
