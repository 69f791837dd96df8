import type { Contract, ContractSpec, EventData, EventName, StateOf } from '@boardcast/core';
import { callAll } from './listeners.js';

/** How one event changes the mirrored state; return the same object for "no change". */
export type Reducer<C extends ContractSpec, K extends EventName<C>> = (
  state: StateOf<C>,
  data: EventData<C, K>,
  id: string,
) => StateOf<C>;

export type Reducers<C extends ContractSpec> = { readonly [K in EventName<C>]?: Reducer<C, K> };

export interface StateMirrorOptions<C extends ContractSpec> {
  /** State before the first snapshot arrives (default `undefined`). */
  readonly initialState?: StateOf<C>;
  /**
   * Per-event reducers. An event without one replaces the state field of the
   * same name when the state is an object that has that field; otherwise it
   * leaves the state alone.
   */
  readonly reducers?: Reducers<C>;
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
  /** Replace the whole state (a server snapshot). */
  replace(state: StateOf<C>): void;
  /** Apply one event through its reducer. */
  apply<K extends EventName<C>>(event: K, data: EventData<C, K>, id: string): void;
}

export function createStateMirror<C extends ContractSpec>(
  _contract: Contract<C> | C,
  options: StateMirrorOptions<C> = {},
): StateMirror<C> {
  let state = options.initialState;
  const listeners = new Set<() => void>();
  const reducers = (options.reducers ?? {}) as Record<string, Reducer<C, EventName<C>> | undefined>;
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
    apply(event, data, id) {
      if (state === undefined) return;
      const reducer = reducers[event];
      if (reducer) return set(reducer(state, data, id));
      if (state !== null && typeof state === 'object' && !Array.isArray(state) && Object.hasOwn(state, event)) {
        set({ ...state, [event]: data });
      }
    },
  };
}
