import { vi } from 'vitest';

/**
 * Every timer `setTimeout` arms from now on, in order (each is the real
 * timer and still fires): to check what the code under test arms, e.g. that a
 * timer does not keep the process alive (`hasRef()` is false). The spy stays
 * until `vi.restoreAllMocks()` (or the project's `restoreMocks`).
 */
export function armedTimers(): ReturnType<typeof setTimeout>[] {
  const real = globalThis.setTimeout;
  const timers: ReturnType<typeof setTimeout>[] = [];
  vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number) => {
    const timer = real(fn, ms);
    timers.push(timer);
    return timer;
  }) as typeof setTimeout);
  return timers;
}
