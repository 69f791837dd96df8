/**
 * Poll until `check` returns a truthy value (a throw counts as "not yet"),
 * and fail with `what` and the last error after the deadline. Tests wait for
 * conditions rather than sleeping for fixed times, so they stay correct on a
 * loaded machine.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what = 'condition',
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
