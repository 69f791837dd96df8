import { defineContract, typed } from '@boardcast/core';

/** `add` counts its folds (`n`): an event folded twice shows as a wrong `n`. */
export const fleet = defineContract({
  events: { add: typed<number>(), led: typed<{ on: boolean }>() },
  commands: { led: { input: typed<{ on: boolean }>(), result: typed<{ on: boolean }>() } },
  state: typed<{ sum: number; n: number; on: boolean }>(),
  reducers: {
    add: (s, x) => ({ ...s, sum: s.sum + x, n: s.n + 1 }),
    led: (s, { on }) => ({ ...s, on }),
  },
});
