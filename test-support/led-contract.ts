import { defineContract, typed } from '@boardcast/core';

/** The LED demo's shape, small: the UI bindings' test pages (@boardcast/react, @boardcast/vue) and their test servers share it. */
export const contract = defineContract({
  events: {
    led: typed<{ on: boolean }>(),
    button: typed<{ pressed: boolean }>(),
  },
  commands: {
    led: { input: typed<{ state: 'on' | 'off' | 'toggle' }>(), result: typed<{ on: boolean }>() },
    fail: { input: typed<null>(), result: typed<null>() },
  },
  state: typed<{ led: { on: boolean } }>(),
  reducers: { led: (state, led) => ({ ...state, led }) },
});
