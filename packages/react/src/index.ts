import type {
  BoardcastClient,
  BoardcastError,
  CommandOptions,
  ServerStatus,
  StatusChange,
} from '@boardcast/browser-client';
import { type Boardcast, type CommandRun, commandRunner } from '@boardcast/browser-client/bindings';
import type {
  CommandInput,
  CommandName,
  CommandResult,
  ContractSpec,
  EventData,
  EventName,
  StateOf,
} from '@boardcast/core';
import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';

export type { ServerStatus, StatusChange } from '@boardcast/browser-client';
// One board for every binding (browser-client/bindings): the hooks take it as their first argument.
// Server rendering never opens a connection: the hooks return their initial values there
// (`useSyncExternalStore`'s server snapshot; effects do not run).
export { type Boardcast, type BoardcastOptions, createBoardcast } from '@boardcast/browser-client/bindings';

/** What {@link useCommand} returns. */
export interface CommandState<C extends ContractSpec, K extends CommandName<C>> {
  /**
   * Send the command. Resolves with its result, or with `undefined` when it
   * failed — then `error` says why; it never rejects, so an `onClick` needs
   * no `catch`. Commands may overlap: `pending` stays true until all settle.
   */
  run(input: CommandInput<C, K>, options?: CommandOptions): Promise<CommandResult<C, K> | undefined>;
  /** A run is in flight. */
  readonly pending: boolean;
  /** Why the last run failed (a `BoardcastError` with a stable `code`); cleared by the next run. */
  readonly error: BoardcastError | undefined;
  /** The last successful run's result. */
  readonly result: CommandResult<C, K> | undefined;
  /** Forget `error` and `result`. */
  reset(): void;
}

/** The status before any client exists (and in a server render). */
const IDLE: StatusChange = Object.freeze({ status: 'connecting', attempt: 0 });
const OK: ServerStatus = Object.freeze({ bus: 'ok' });

/** Per board: the stable subscribe/getSnapshot pairs `useSyncExternalStore` needs. */
interface Stores {
  readonly subscribeState: (listener: () => void) => () => void;
  readonly getState: () => unknown;
  readonly getInitial: () => unknown;
  readonly subscribeStatus: (listener: () => void) => () => void;
  readonly getStatus: () => StatusChange;
  readonly subscribeServer: (listener: () => void) => () => void;
  readonly getServer: () => ServerStatus;
  readonly subscribeClient: (listener: () => void) => () => void;
  readonly getClient: () => unknown;
}
const stores = new WeakMap<object, Stores>();

function storesOf(board: Boardcast<ContractSpec>): Stores {
  const found = stores.get(board);
  if (found) return found;
  const { lease, initialState } = board;
  /** A subscribe function for useSyncExternalStore that holds the lease while subscribed. */
  const held =
    (on: (client: BoardcastClient<ContractSpec>, listener: () => void) => () => void) =>
    (listener: () => void): (() => void) => {
      const off = on(lease.acquire(), listener);
      return () => {
        off();
        lease.release();
      };
    };
  // The status object must stay the same until it changes (useSyncExternalStore compares it).
  const statuses = new WeakMap<object, StatusChange>();
  const made: Stores = {
    subscribeState: held((client, listener) => client.subscribe(listener)),
    getState: () => lease.client?.getSnapshot() ?? initialState,
    getInitial: () => initialState,
    subscribeStatus: held((client, listener) =>
      client.onStatus((change) => {
        statuses.set(client, change);
        listener();
      }),
    ),
    getStatus() {
      const client = lease.client;
      if (!client) return IDLE;
      let status = statuses.get(client);
      if (!status || status.status !== client.status) {
        status = { status: client.status, attempt: 0, error: client.error };
        statuses.set(client, status);
      }
      return status;
    },
    subscribeServer: held((client, listener) => client.onServer(listener)),
    getServer: () => lease.client?.server ?? OK,
    subscribeClient: held((_client, listener) => lease.onChange(listener)),
    getClient: () => lease.client,
  };
  stores.set(board, made);
  return made;
}

const getIdle = () => IDLE;
const getOk = () => OK;
const getNothing = () => undefined;

/**
 * The mirrored state (the server's snapshot with every event since folded
 * by the contract's reducers), or `select(state)`. `undefined` until the
 * first snapshot (and in a server render) unless `initialState` was given.
 * Re-renders when the state changes.
 */
export function useBoardState<C extends ContractSpec>(board: Boardcast<C>): StateOf<C> | undefined;
export function useBoardState<C extends ContractSpec, T>(
  board: Boardcast<C>,
  select: (state: StateOf<C>) => T,
): T | undefined;
export function useBoardState<C extends ContractSpec, T>(
  board: Boardcast<C>,
  select?: (state: StateOf<C>) => T,
): StateOf<C> | T | undefined {
  const { subscribeState, getState, getInitial } = storesOf(board as Boardcast<ContractSpec>);
  const state = useSyncExternalStore(subscribeState, getState, getInitial) as StateOf<C> | undefined;
  return select && state !== undefined ? select(state) : state;
}

/** The connection: `status` (`connecting`, `open`, `reconnecting`, `closed`), `attempt`, `delayMs`, `error`. */
export function useConnection<C extends ContractSpec>(board: Boardcast<C>): StatusChange {
  const { subscribeStatus, getStatus } = storesOf(board as Boardcast<ContractSpec>);
  return useSyncExternalStore(subscribeStatus, getStatus, getIdle);
}

/** What the server says about itself: `{ bus: 'degraded' }` while it cannot reach its shared bus. */
export function useServerStatus<C extends ContractSpec>(board: Boardcast<C>): ServerStatus {
  const { subscribeServer, getServer } = storesOf(board as Boardcast<ContractSpec>);
  return useSyncExternalStore(subscribeServer, getServer, getOk);
}

/** The client itself while mounted (`undefined` in a server render and before the first effect). */
export function useBoardClient<C extends ContractSpec>(board: Boardcast<C>): BoardcastClient<C> | undefined {
  const { subscribeClient, getClient } = storesOf(board as Boardcast<ContractSpec>);
  return useSyncExternalStore(subscribeClient, getClient, getNothing) as BoardcastClient<C> | undefined;
}

/**
 * Call `listener` for every `name` event while mounted (a button press, a
 * log line). The latest `listener` is called; it need not be memoized.
 */
export function useBoardEvent<C extends ContractSpec, K extends EventName<C>>(
  board: Boardcast<C>,
  name: K,
  listener: (data: EventData<C, K>, id: string) => void,
): void {
  const latest = useRef(listener);
  useEffect(() => {
    latest.current = listener;
  });
  const { lease } = board;
  useEffect(() => {
    const client = lease.acquire();
    const off = client.on(name, (data, id) => latest.current(data, id));
    return () => {
      off();
      lease.release();
    };
  }, [lease, name]);
}

/** Send `name` with pending/error/result state for the component. */
export function useCommand<C extends ContractSpec, K extends CommandName<C>>(
  board: Boardcast<C>,
  name: K,
): CommandState<C, K> {
  const [state, setState] = useState<CommandRun<C, K>>({ pending: false });
  const { run, reset } = useMemo(() => commandRunner(board.lease, name, setState), [board.lease, name]);
  return { run, reset, pending: state.pending, error: state.error, result: state.result };
}
