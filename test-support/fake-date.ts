import { onTestFinished, vi } from 'vitest';

/**
 * For the rest of the calling test, `Date` is the test's (timers stay real
 * and the clock runs on): `vi.setSystemTime(t)` then moves every
 * `Date.now()` to `t` in one step, with no timer run in between, however
 * loaded the machine. Restored when the test ends, however it ends.
 */
export function fakeDateForTest(): void {
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  onTestFinished(() => {
    vi.useRealTimers();
  });
}
