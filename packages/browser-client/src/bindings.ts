import {
  BoardcastError,
  type ClientContract,
  type CommandInput,
  type CommandName,
  type CommandResult,
  type Contract,
  type ContractSpec,
  type StateOf,
} from '@boardcast/core';
import type { CommandOptions } from './client.js';
import { type ConnectOptions, connect } from './index.js';
import { type ClientLease, createClientLease } from './lease.js';

/**
 * What the UI bindings (`@boardcast/react`, `@boardcast/vue`) share, free of
 * any framework: the board their hooks/composables take, and a command's
 * pending/error/result as plain state. Each binding turns these into its
 * own reactivity (`useSyncExternalStore`/`useState`, `shallowRef`).
 */

/** `connect()`'s options, plus how long the connection outlives its last user. */
export type BoardcastOptions<C extends ContractSpec> = ConnectOptions<C> & {
  /**
   * Milliseconds the connection stays open after the last component using
   * it unmounts (default 1000): React StrictMode's unmount-and-mount again,
   * or a route change that shows the same data, keeps one connection.
   */
  readonly graceMs?: number;
};

/**
 * One boardcast server for a binding's hooks/composables, from
 * {@link createBoardcast}: they take it as their first argument and hold the
 * connection while their component is mounted; the first opens it, the
 * last one's unmount closes it (after `graceMs`). A server render never
 * opens one.
 */
export interface Boardcast<C extends ContractSpec> {
  /** The lease behind the bindings: `lease.client` outside components, `lease.acquire()`/`release()` to hold it. */
  readonly lease: ClientLease<C>;
  /** `initialState` from the options: what the bindings show before the first snapshot and in a server render. */
  readonly initialState: StateOf<C> | undefined;
}

/**
 * Connect to the boardcast server at `url` (`connect()`'s argument, e.g.
 * `'/api'`) for a binding. Call it once, at module level: it opens nothing
 * until a component using it mounts, so importing the module in a server
 * render (Next.js, Remix, Nuxt, Vite SSR) is safe.
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

/** A command's state for a UI: a new object on every change. */
export interface CommandRun<C extends ContractSpec, K extends CommandName<C>> {
  /** A run is in flight (runs may overlap: true until all settle). */
  readonly pending: boolean;
  /** Why the last run failed (a `BoardcastError` with a stable `code`); cleared by the next run. */
  readonly error?: BoardcastError | undefined;
  /** The last successful run's result. */
  readonly result?: CommandResult<C, K> | undefined;
}

/**
 * Runs of command `name` on the board's client, each holding the lease
 * while it is in flight; `show` gets the new {@link CommandRun} at every
 * step. `run` resolves with the result, or with `undefined` when the
 * command failed (then `error` says why: a thrown non-`BoardcastError`
 * becomes `handler_failed`); it never rejects, so a click handler needs no
 * `catch`. `reset` forgets `error` and `result`.
 */
export function commandRunner<C extends ContractSpec, K extends CommandName<C>>(
  lease: ClientLease<C>,
  name: K,
  show: (state: CommandRun<C, K>) => void,
): {
  run(input: CommandInput<C, K>, options?: CommandOptions): Promise<CommandResult<C, K> | undefined>;
  reset(): void;
} {
  let state: CommandRun<C, K> = { pending: false };
  let inFlight = 0;
  const set = (next: CommandRun<C, K>) => {
    state = next;
    show(next);
  };
  return {
    async run(input, options) {
      const client = lease.acquire();
      inFlight++;
      set({ pending: true, result: state.result });
      try {
        const result = (await client.command(name, input, options)) as CommandResult<C, K>;
        set({ pending: --inFlight > 0, result });
        return result;
      } catch (cause) {
        const error =
          cause instanceof BoardcastError
            ? cause
            : new BoardcastError('handler_failed', String((cause as Error)?.message ?? cause), { cause });
        set({ pending: --inFlight > 0, error, result: state.result });
        return undefined;
      } finally {
        lease.release();
      }
    },
    reset: () => set({ pending: state.pending }),
  };
}
