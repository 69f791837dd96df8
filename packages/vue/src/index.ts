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
import {
  getCurrentInstance,
  getCurrentScope,
  onMounted,
  onScopeDispose,
  type Ref,
  type ShallowRef,
  shallowRef,
} from 'vue';

export type { ServerStatus, StatusChange } from '@boardcast/browser-client';

/** `connect()`'s options, plus how long the connection outlives its last user. */
export type BoardcastOptions<C extends ContractSpec> = ConnectOptions<C> & {
  /**
   * Milliseconds the connection stays open after the last component using
   * it unmounts (default 1000): a route change that shows the same data
   * keeps one connection.
   */
  readonly graceMs?: number;
};

/** What {@link useCommand} returns. */
export interface CommandState<C extends ContractSpec, K extends CommandName<C>> {
  /**
   * Send the command. Resolves with its result, or with `undefined` when it
   * failed — then `error` says why; it never rejects, so a `@click` needs no
   * `catch`. Commands may overlap: `pending` stays true until all settle.
   */
  run(input: CommandInput<C, K>, options?: CommandOptions): Promise<CommandResult<C, K> | undefined>;
  /** A run is in flight. */
  readonly pending: Readonly<Ref<boolean>>;
  /** Why the last run failed (a `BoardcastError` with a stable `code`); cleared by the next run. */
  readonly error: Readonly<ShallowRef<BoardcastError | undefined>>;
  /** The last successful run's result. */
  readonly result: Readonly<ShallowRef<CommandResult<C, K> | undefined>>;
  /** Forget `error` and `result`. */
  reset(): void;
}

/**
 * One boardcast server for the composables, from {@link createBoardcast}:
 * pass it as their first argument. Each composable holds the connection
 * while its component is mounted (from `onMounted`, which never runs in a
 * server render, to unmount); the first opens it, the last one's unmount
 * closes it (after `graceMs`). In a server render they return their initial
 * values and open nothing. Called in an `effectScope()` outside a component
 * (in a browser), they hold it until the scope is stopped. With channels, a
 * board for one channel will be passed the same way, so the composables keep
 * their signatures.
 */
export interface Boardcast<C extends ContractSpec> {
  /** The lease behind the composables: `lease.client` outside components, `acquire()`/`release()` to hold it. */
  readonly lease: ClientLease<C>;
  /** `initialState` from the options: what the refs hold before the first snapshot and in a server render. */
  readonly initialState: StateOf<C> | undefined;
}

const IDLE: StatusChange = Object.freeze({ status: 'connecting', attempt: 0 });
const OK: ServerStatus = Object.freeze({ bus: 'ok' });

/**
 * Connect to the boardcast server at `url` (`connect()`'s argument, e.g.
 * `'/api'`) for the composables. Call it once, at module level: it opens
 * nothing until a component using it mounts, so a Nuxt or Vite SSR render
 * is safe.
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
 * Run `attach` with the client once mounted (or at once in a scope outside
 * a component, in a browser) and undo it on unmount or scope disposal.
 */
function hold<C extends ContractSpec>(
  { lease }: Boardcast<C>,
  attach: (client: BoardcastClient<C>) => () => void,
): void {
  let detach: (() => void) | undefined;
  const start = () => {
    const off = attach(lease.acquire());
    detach = () => {
      off();
      lease.release();
    };
  };
  if (getCurrentInstance()) onMounted(start);
  else if (getCurrentScope() && typeof window !== 'undefined') start();
  if (getCurrentScope()) {
    onScopeDispose(() => {
      detach?.();
      detach = undefined;
    });
  }
}

/**
 * The mirrored state (the server's snapshot with every event since folded
 * by the contract's reducers), or `select(state)`, as a shallow ref.
 * `undefined` until the first snapshot unless `initialState` was given.
 */
export function useBoardState<C extends ContractSpec>(
  board: Boardcast<C>,
): Readonly<ShallowRef<StateOf<C> | undefined>>;
export function useBoardState<C extends ContractSpec, T>(
  board: Boardcast<C>,
  select: (state: StateOf<C>) => T,
): Readonly<ShallowRef<T | undefined>>;
export function useBoardState<C extends ContractSpec, T>(
  board: Boardcast<C>,
  select?: (state: StateOf<C>) => T,
): Readonly<ShallowRef<StateOf<C> | T | undefined>> {
  const pick = (state: StateOf<C> | undefined): StateOf<C> | T | undefined =>
    select && state !== undefined ? select(state) : state;
  const value = shallowRef<StateOf<C> | T | undefined>(pick(board.lease.client?.getSnapshot() ?? board.initialState));
  hold(board, (client) => {
    const update = () => {
      value.value = pick(client.getSnapshot() ?? board.initialState);
    };
    update();
    return client.subscribe(update);
  });
  // (shallowRef's overloads widen a union type argument; the value is exactly this.)
  return value as Readonly<ShallowRef<StateOf<C> | T | undefined>>;
}

/** The connection: `status` (`connecting`, `open`, `reconnecting`, `closed`), `attempt`, `delayMs`, `error`. */
export function useConnection<C extends ContractSpec>(board: Boardcast<C>): Readonly<ShallowRef<StatusChange>> {
  const value = shallowRef<StatusChange>(IDLE);
  hold(board, (client) => {
    value.value = { status: client.status, attempt: 0, error: client.error };
    return client.onStatus((change) => {
      value.value = change;
    });
  });
  return value;
}

/** What the server says about itself: `{ bus: 'degraded' }` while it cannot reach its shared bus. */
export function useServerStatus<C extends ContractSpec>(board: Boardcast<C>): Readonly<ShallowRef<ServerStatus>> {
  const value = shallowRef<ServerStatus>(OK);
  hold(board, (client) => {
    value.value = client.server;
    return client.onServer((status) => {
      value.value = status;
    });
  });
  return value;
}

/** Call `listener` for every `name` event while mounted (a button press, a log line). */
export function useBoardEvent<C extends ContractSpec, K extends EventName<C>>(
  board: Boardcast<C>,
  name: K,
  listener: (data: EventData<C, K>, id: string) => void,
): void {
  hold(board, (client) => client.on(name, listener));
}

/** Send `name` with pending/error/result refs for the component. */
export function useCommand<C extends ContractSpec, K extends CommandName<C>>(
  board: Boardcast<C>,
  name: K,
): CommandState<C, K> {
  type Result = CommandResult<C, K>;
  const { lease } = board;
  const pending = shallowRef(false);
  const error = shallowRef<BoardcastError | undefined>();
  const result = shallowRef<Result | undefined>();
  let inFlight = 0;
  return {
    pending,
    error,
    result,
    reset() {
      error.value = undefined;
      result.value = undefined;
    },
    async run(input, commandOptions) {
      const client = lease.acquire();
      inFlight++;
      pending.value = true;
      error.value = undefined;
      try {
        const value = (await client.command(name, input, commandOptions)) as Result;
        result.value = value;
        return value;
      } catch (cause) {
        error.value =
          cause instanceof BoardcastError
            ? cause
            : new BoardcastError('handler_failed', String((cause as Error)?.message ?? cause), { cause });
        return undefined;
      } finally {
        pending.value = --inFlight > 0;
        lease.release();
      }
    },
  };
}
