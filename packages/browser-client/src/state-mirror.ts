import type {
  ClientContract,
  Reducers as ContractReducers,
  ContractSpec,
  EventData,
  EventName,
  StateOf,
} from '@boardcast/core';
import { callAll } from './listeners.js';

/** How one event changes the state: the contract's reducer for event `K`. */
export type Reducer<C extends ContractSpec, K extends EventName<C>> = (
  state: StateOf<C>,
  data: EventData<C, K>,
) => StateOf<C>;

/** The reducers a contract declares (`defineContract({ …, reducers })`). */
export type Reducers<C extends ContractSpec> = ContractReducers<C>;

export interface StateMirrorOptions<C extends ContractSpec> {
  /** State before the first snapshot arrives (default `undefined`). */
  readonly initialState?: StateOf<C>;
}

/**
 * The snapshot kept current by events. `subscribe`/`getSnapshot` are bound
 * and `getSnapshot` returns the same object until something changes, so they
 * can be handed straight to React's `useSyncExternalStore`, a Vue `shallowRef`
 * watcher or a Svelte store.
 */
export interface StateMirror<C extends ContractSpec> {
  getSnapshot(): StateOf<C> | undefined;
  subscribe(listener: () => void): () => void;
  /** Replace the whole state (a server snapshot, also sent for every `hub.setState`). */
  replace(state: StateOf<C>): void;
  /**
   * Fold one event through the contract's reducer, as the hub did. No
   * reducer, or no state yet: nothing changes. A reducer that throws leaves
   * the state as it was (the hub does the same) and the error is thrown to
   * the caller after that, for it to report.
   */
  apply<K extends EventName<C>>(event: K, data: EventData<C, K>): void;
}

/**
 * The browser's copy of the hub's state: the snapshot, then every event
 * folded through the reducers the contract declares — the same functions the
 * hub runs, so a page writes no folding of its own and stays equal to the
 * server's state at the same event id.
 */
export function createStateMirror<C extends ContractSpec>(
  contract: C | ClientContract<C>,
  options: StateMirrorOptions<C> = {},
): StateMirror<C> {
  let state = options.initialState;
  const listeners = new Set<() => void>();
  const reducers = (contract.reducers ?? {}) as Record<string, ((s: unknown, d: unknown) => unknown) | undefined>;
  const set = (next: StateOf<C> | undefined) => {
    if (Object.is(next, state)) return;
    state = next;
    callAll(listeners, []);
  };
  return {
    getSnapshot: () => state,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    replace: set,
    apply(event, data) {
      const reducer = Object.hasOwn(reducers, event) ? reducers[event] : undefined;
      if (state !== undefined && reducer) set(reducer(state, data) as StateOf<C>);
    },
  };
}
