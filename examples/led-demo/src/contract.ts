import { defineContract, type StandardSchemaV1, typed } from '@boardcast/core';

export type LedState = 'on' | 'off' | 'toggle';
export type Level = 0 | 1;

/** One input row on the page: the button and the extra input pin of the seeds. */
export interface InputInfo {
  readonly name: string;
  readonly level: Level;
  /** The level that means "pressed" / "active" (0 for a button wired to ground with a pull-up). */
  readonly activeLevel: Level;
}

export interface DemoState {
  readonly led: { readonly on: boolean };
  /** Keyed by pin number (as a string: JSON object keys). */
  readonly inputs: Readonly<Record<string, InputInfo>>;
  readonly time: string;
  readonly board: { readonly id: string; readonly kind: string; readonly status: 'online' | 'offline' };
}

/**
 * A hand-written Standard Schema: the page imports this contract too, and a
 * ten-line validator keeps a schema library out of the page bundle. zod or
 * valibot would plug in the same way.
 */
const ledInput: StandardSchemaV1<unknown, { state: LedState }> = {
  '~standard': {
    version: 1,
    vendor: 'led-demo',
    validate(value) {
      const state = (value as { state?: unknown } | null)?.state;
      if (state === 'on' || state === 'off' || state === 'toggle') return { value: { state } };
      return { issues: [{ message: 'expected "on", "off" or "toggle"', path: ['state'] }] };
    },
  },
};

export const contract = defineContract({
  events: {
    led: typed<{ on: boolean }>(),
    pin_change: typed<{ pin: number | string; value: Level }>(),
    time: typed<string>(),
    board: typed<{ id: string; status: 'online' | 'offline' }>(),
  },
  commands: {
    led: { input: ledInput, result: typed<{ on: boolean }>() },
  },
  state: typed<DemoState>(),
});

export type DemoContract = typeof contract;
