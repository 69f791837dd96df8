import * as v from 'valibot';
import { z } from 'zod';
import { defineContract, typed } from '../src/index.js';

/** The LED/button contract the seeds describe, mixing schema and type-only entries. */
export const ledContract = defineContract({
  events: {
    led: z.object({ on: z.boolean() }),
    pin_change: typed<{ pin: string; value: 0 | 1 }>(),
    time: typed<string>(),
  },
  commands: {
    led: {
      input: z.object({ state: z.enum(['on', 'off', 'toggle']) }),
      result: typed<{ on: boolean }>(),
    },
    blink: {
      input: v.object({ times: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10)) }),
      result: v.object({ done: v.boolean() }),
    },
    slow: { input: typed<null>(), result: typed<string>() },
  },
  state: typed<{ led: { on: boolean }; inputs: Record<string, 0 | 1> }>(),
});

export const initialState = { led: { on: false }, inputs: { button: 0 as 0 | 1 } };

/** One `tick` event that adds to a count: the smallest contract with a reducer, for channel tests. */
export const tickContract = defineContract({
  events: { tick: typed<number>() },
  commands: {},
  state: typed<{ ticks: number }>(),
  reducers: { tick: (state, n) => ({ ticks: state.ticks + n }) },
});
