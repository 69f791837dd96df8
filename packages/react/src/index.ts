import {
  type BoardcastClient,
  BoardcastError,
  type ClientLease,
  type CommandOptions,
  type ConnectOptions,
  connect,
  createClientLease,
  type ServerStatus,
  type StatusChange,
} from '@boardcast/browser-client';
import type {
  ClientContract,
  CommandInput,
  CommandName,
  CommandResult,
  Contract,
  ContractSpec,
  EventData,
  EventName,
  StateOf,
} from '@boardcast/core';
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';

export type { ServerStatus, StatusChange } from '@boardcast/browser-client';

/** `connect()`'s options, plus how long the connection outlives its last user. */
export type BoardcastOptions<C extends ContractSpec> = ConnectOptions<C> & {
  /**
   * Milliseconds the connection stays open after the last component using
   * it unmounts (default 1000): StrictMode's unmount-and-mount again, or a
   * route change that shows the same data, keeps one connection.
   */
  readonly graceMs?: number;
};

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

/**
 * One boardcast server for the hooks, from {@link createBoardcast}: pass it
 * as their first argument. Every hook holds the connection while its
 * component is mounted; the first opens it, the last one's unmount closes it
 * (after `graceMs`). Server rendering never opens one: the hooks return
 * their initial values there (`useSyncExternalStore`'s server snapshot;
 * effects do not run). With channels, a board for one channel will be
 * passed the same way, so the hooks keep their signatures.
 */
export interface Boardcast<C extends ContractSpec> {
  /** The lease behind the hooks: `lease.client` outside React, `lease.acquire()`/`release()` to hold it. */
  readonly lease: ClientLease<C>;
  /** `initialState` from the options: what the hooks show before the first snapshot and in a server render. */
  readonly initialState: StateOf<C> | undefined;
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
 * Connect to the boardcast server at `url` (`connect()`'s argument, e.g.
 * `'/api'`) for the hooks. Call it once, at module level: it opens nothing
 * until a component using it mounts, so importing the module in a server
 * render (Next.js, Remix, Vite SSR) is safe.
 */
export function createBoardcast<C extends ContractSpec>(
  url: string,
  contract: Contract<C> | C | ClientContract<C>,
  options: BoardcastOptions<C> = {},
): Boardcast<C> {
  const { graceMs, ...connectOptions } = options;
  return {
    lease: createClientLease<C>(() => connect(url, contract, connectOptions as ConnectOptions<C>), graceMs),
    initialState: connectOptions.initialState,
  };
}

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
  type Result = CommandResult<C, K>;
  const [state, setState] = useState<{ pending: boolean; error?: BoardcastError; result?: Result }>({
    pending: false,
  });
  const inFlight = useRef(0);
  const { lease } = board;
  const run = useCallback(
    async (input: CommandInput<C, K>, commandOptions?: CommandOptions) => {
      const client = lease.acquire();
      inFlight.current++;
      setState((s) => ({ pending: true, result: s.result }));
      try {
        const result = (await client.command(name, input, commandOptions)) as Result;
        setState({ pending: --inFlight.current > 0, result });
        return result;
      } catch (cause) {
        const error =
          cause instanceof BoardcastError
            ? cause
            : new BoardcastError('handler_failed', String((cause as Error)?.message ?? cause), { cause });
        setState((s) => ({ pending: --inFlight.current > 0, error, result: s.result }));
        return undefined;
      } finally {
        lease.release();
      }
    },
    [lease, name],
  );
  const reset = useCallback(() => setState((s) => ({ pending: s.pending })), []);
  return { run, reset, pending: state.pending, error: state.error, result: state.result };
}
