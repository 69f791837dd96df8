// Machine-wide CPU use from /proc/stat, to see (and wait out) load that is
// not ours: on a shared 2-core machine a compiler or a test run next door
// moves every figure.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { sleep } from './clock.mjs';

export function cpuTimes() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    const total = f.reduce((a, b) => a + b, 0);
    return { idle, total, at: Date.now() };
  } catch {
    return null;
  }
}

/** Busy CPU between two samples, in % of one core (0 … cores × 100). */
export function busyPct(a, b) {
  if (!a || !b || b.total <= a.total) return null;
  return (1 - (b.idle - a.idle) / (b.total - a.total)) * os.cpus().length * 100;
}

/**
 * Wait until the machine is nearly idle (our own children are stopped
 * between runs), up to `maxWaitMs`. Returns the busy % last seen.
 */
export async function waitQuiet({ thresholdPct = 20, maxWaitMs = 60_000, sampleMs = 500 } = {}) {
  const deadline = Date.now() + maxWaitMs;
  let busy = null;
  for (;;) {
    const a = cpuTimes();
    await sleep(sampleMs);
    busy = busyPct(a, cpuTimes());
    if (busy === null || busy <= thresholdPct || Date.now() > deadline) return busy;
  }
}
