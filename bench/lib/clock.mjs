// One clock for every process: process.hrtime reads CLOCK_MONOTONIC, which
// Linux shares across processes, so a publish time stamped in the server can
// be subtracted from a receive time read in a load generator.
export function nowUs() {
  const [s, ns] = process.hrtime();
  return s * 1e6 + Math.floor(ns / 1e3);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(fn, { timeoutMs = 10_000, everyMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}
