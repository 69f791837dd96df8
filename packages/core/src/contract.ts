import type { StandardSchemaV1 } from '@standard-schema/spec';

/**
 * A contract entry carrying only a TypeScript type. Nothing is checked at
 * runtime; use a Standard Schema (zod, valibot, arktype …) where inbound data
 * must be validated.
 */
export interface TypeOnly<T> {
  readonly '~boardcast.type': 'type-only';
  /** Phantom field: exists only for inference. */
  readonly '~types'?: { readonly value: T };
}

/** Either a Standard Schema validator or a {@link typed} marker. */
// biome-ignore lint/suspicious/noExplicitAny: schema input types are intentionally open
export type Entry = StandardSchemaV1<any, unknown> | TypeOnly<unknown>;

/** Declare an entry by TypeScript type alone: `led: typed<{ on: boolean }>()`. */
export function typed<T>(): TypeOnly<T> {
  return { '~boardcast.type': 'type-only' };
}

export interface CommandSpec {
  readonly input: Entry;
  readonly result: Entry;
}

export type EventsSpec = { readonly [name: string]: Entry };
export type CommandsSpec = { readonly [name: string]: CommandSpec };

/**
 * How one event folds into the snapshot state: `(state, data) => state`.
 * Pure and synchronous: the hub runs it on every instance and the browser's
 * state mirror runs the same function, so every copy of the state agrees.
 * Return the same object for "no change"; never mutate `state`.
 */
export type Reducer<S, D> = (state: S, data: D) => S;

/** Per-event reducers for events `E` folding into state entry `St`; every key optional. */
export type ReducerMap<E extends EventsSpec, St extends Entry> = {
  readonly [K in keyof E & string]?: Reducer<Output<St>, Output<E[K]>>;
};

export interface ContractSpec {
  readonly events: EventsSpec;
  readonly commands: CommandsSpec;
  readonly state: Entry;
  /**
   * Reducers by event name (see {@link Reducer}). An event without one
   * leaves the state alone.
   */
  // biome-ignore lint/suspicious/noExplicitAny: each key has its own state/data types, checked by defineContract
  readonly reducers?: { readonly [name: string]: Reducer<any, any> | undefined } | undefined;
}

/** A contract as returned by {@link defineContract}. */
export type Contract<S extends ContractSpec = ContractSpec> = S & { readonly '~boardcast.contract': 1 };

/** The value type after validation (what a handler receives / a listener sees). */
export type Output<E> = E extends StandardSchemaV1<infer _I, infer O> ? O : E extends TypeOnly<infer T> ? T : never;

/** The value type before validation (what a caller sends). */
export type Input<E> = E extends StandardSchemaV1<infer I, infer _O> ? I : E extends TypeOnly<infer T> ? T : never;

export type EventName<C extends ContractSpec> = keyof C['events'] & string;
export type EventData<C extends ContractSpec, K extends EventName<C>> = Output<C['events'][K]>;
export type EventMap<C extends ContractSpec> = { [K in EventName<C>]: EventData<C, K> };

export type CommandName<C extends ContractSpec> = keyof C['commands'] & string;
/** What a caller passes to `command(name, input)`. */
export type CommandInput<C extends ContractSpec, K extends CommandName<C>> = Input<C['commands'][K]['input']>;
/** What a handler receives after validation. */
export type CommandPayload<C extends ContractSpec, K extends CommandName<C>> = Output<C['commands'][K]['input']>;
/** What a handler returns and a caller receives. */
export type CommandResult<C extends ContractSpec, K extends CommandName<C>> = Output<C['commands'][K]['result']>;

export type StateOf<C extends ContractSpec> = Output<C['state']>;

/** The reducers a contract may declare, typed from its events and state. */
export type Reducers<C extends ContractSpec> = ReducerMap<C['events'], C['state']>;

/**
 * What a browser needs of a contract at runtime: the event names (the keys
 * of `events`; their values are not used) and the reducers. A full
 * {@link Contract} is one; a page that must not bundle the schema library of
 * the server's contract passes `{ events: { led: 1, … }, reducers }` with
 * the contract's type: `connect<typeof contract>('/api', { … })`.
 */
export interface ClientContract<C extends ContractSpec> {
  readonly events: { readonly [K in EventName<C>]: unknown };
  readonly reducers?: Reducers<C> | undefined;
}

/** Names that would collide with the protocol's own SSE events (and EventSource's). */
const RESERVED_EVENTS = new Set(['snapshot', 'reset', 'keepalive', 'message', 'error', 'open']);
const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/**
 * Declare, once, what flows each way, and how events fold into the snapshot
 * state. Every other package infers its types from the returned value
 * (`typeof contract`), with no code generation.
 *
 * ```ts
 * defineContract({
 *   events: { led: typed<{ on: boolean }>() },
 *   commands: {},
 *   state: typed<{ led: { on: boolean } }>(),
 *   reducers: { led: (state, led) => ({ ...state, led }) }, // typed from events and state
 * });
 * ```
 *
 * Throws `TypeError` for an event or command name that cannot travel (not
 * `[A-Za-z][A-Za-z0-9_.-]{0,63}`), an event named `snapshot`, `reset`,
 * `keepalive`, `message`, `error` or `open` (the protocol's own), or a
 * reducer that is not a function or names no event.
 */
export function defineContract<
  const E extends EventsSpec,
  const Cm extends CommandsSpec,
  const St extends Entry,
  const R extends ReducerMap<E, St> = {},
>(spec: {
  readonly events: E;
  readonly commands: Cm;
  readonly state: St;
  readonly reducers?: R & ReducerMap<E, St>;
}): Contract<{ readonly events: E; readonly commands: Cm; readonly state: St; readonly reducers: R }> {
  for (const name of Object.keys(spec.events)) {
    if (!NAME.test(name)) {
      throw new TypeError(`boardcast: event name "${name}" must match ${NAME} (it is sent as an SSE event field)`);
    }
    if (RESERVED_EVENTS.has(name)) {
      throw new TypeError(`boardcast: event name "${name}" is reserved by the protocol`);
    }
  }
  for (const name of Object.keys(spec.commands)) {
    if (!NAME.test(name)) {
      throw new TypeError(`boardcast: command name "${name}" must match ${NAME} (it is part of a URL path)`);
    }
  }
  const reducers = spec.reducers ?? {};
  for (const [name, reducer] of Object.entries(reducers)) {
    if (!Object.hasOwn(spec.events, name)) throw new TypeError(`boardcast: reducer "${name}" names no event`);
    if (reducer !== undefined && typeof reducer !== 'function') {
      throw new TypeError(`boardcast: reducer "${name}" must be a function (state, data) => state`);
    }
  }
  return Object.freeze({
    ...spec,
    reducers: Object.freeze({ ...reducers }),
    '~boardcast.contract': 1 as const,
  }) as never;
}

export function isStandardSchema(entry: unknown): entry is StandardSchemaV1 {
  return (
    entry !== null &&
    (typeof entry === 'object' || typeof entry === 'function') &&
    '~standard' in entry &&
    typeof (entry as StandardSchemaV1)['~standard']?.validate === 'function'
  );
}
