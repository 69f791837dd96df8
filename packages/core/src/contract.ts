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

export interface ContractSpec {
  readonly events: { readonly [name: string]: Entry };
  readonly commands: { readonly [name: string]: CommandSpec };
  readonly state: Entry;
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

/** Names that would collide with the protocol's own SSE events. */
const RESERVED_EVENTS = new Set(['snapshot', 'reset', 'message', 'error', 'open']);
const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/**
 * Declare, once, what flows each way. Every other package infers its types
 * from the returned value (`typeof contract`), with no code generation.
 */
export function defineContract<const S extends ContractSpec>(spec: S): Contract<S> {
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
  return Object.freeze({ ...spec, '~boardcast.contract': 1 as const }) as Contract<S>;
}

export function isStandardSchema(entry: unknown): entry is StandardSchemaV1 {
  return (
    entry !== null &&
    (typeof entry === 'object' || typeof entry === 'function') &&
    '~standard' in entry &&
    typeof (entry as StandardSchemaV1)['~standard']?.validate === 'function'
  );
}
