import type {
  BoardcastClient,
  BoardcastError,
  CommandOptions,
  ServerStatus,
  StatusChange,
} from '@boardcast/browser-client';
import { type Boardcast, commandRunner } from '@boardcast/browser-client/bindings';
import type {
  CommandInput,
  CommandName,
  CommandResult,
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
// One board for every binding (browser-client/bindings): the composables take it as their first argument.
// Each holds the connection while its component is mounted (from `onMounted`, which never runs in a
// server render, to unmount); called in an `effectScope()` outside a component (in a browser), until
// the scope is stopped.
export { type Boardcast, type BoardcastOptions, createBoardcast } from '@boardcast/browser-client/bindings';

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

const IDLE: StatusChange = Object.freeze({ status: 'connecting', attempt: 0 });
const OK: ServerStatus = Object.freeze({ bus: 'ok' });

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
  const pending = shallowRef(false);
  const error = shallowRef<BoardcastError | undefined>();
  const result = shallowRef<CommandResult<C, K> | undefined>();
  const { run, reset } = commandRunner(board.lease, name, (state) => {
    pending.value = state.pending;
    error.value = state.error;
    result.value = state.result;
  });
  return { pending, error, result, run, reset };
}
