#!/usr/bin/env node
// `pnpm test:stress [vitest args]`: the README's test command (scripts/test.mjs)
// while a bounded load generator keeps every CPU busy, as on a shared CI
// machine. A test that is only green on an idle machine fails here.
//
// The load is one process per CPU (`os.availableParallelism()`, or
// BOARDCAST_STRESS_WORKERS) spinning on SHA-256 in 50 ms slices. It stops by
// itself: when the suite ends, when this script dies (the IPC channel
// closes), and at the latest after BOARDCAST_STRESS_MAX_MINUTES (default 60).
// Prints the suite's exit code and wall time; exits with the suite's code.
import { fork, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);

if (process.argv[2] === '--load-worker') {
  const deadline = Date.now() + Number(process.argv[3]);
  let stop = false;
  process.on('disconnect', () => {
    stop = true;
  });
  let hash = Buffer.alloc(32);
  const slice = () => {
    if (stop || Date.now() >= deadline) process.exit(0);
    const end = Date.now() + 50;
    while (Date.now() < end) hash = createHash('sha256').update(hash).digest();
    setImmediate(slice); // lets 'disconnect' through between slices
  };
  slice();
} else {
  const workers = Number(process.env.BOARDCAST_STRESS_WORKERS ?? availableParallelism());
  const maxMinutes = Number(process.env.BOARDCAST_STRESS_MAX_MINUTES ?? 60);
  if (!Number.isSafeInteger(workers) || workers < 1)
    throw new RangeError('BOARDCAST_STRESS_WORKERS must be a positive integer');
  if (!(maxMinutes > 0)) throw new RangeError('BOARDCAST_STRESS_MAX_MINUTES must be a positive number');
  const load = Array.from({ length: workers }, () =>
    fork(self, ['--load-worker', String(Math.round(maxMinutes * 60_000))], { stdio: 'ignore' }),
  );
  const stopLoad = () => {
    for (const child of load) if (child.connected) child.disconnect();
  };
  console.log(`[test:stress] ${workers} load process(es) busy on every CPU for at most ${maxMinutes} min`);
  const started = performance.now();
  const suite = spawn(
    process.execPath,
    [fileURLToPath(new URL('./test.mjs', import.meta.url)), ...process.argv.slice(2)],
    {
      stdio: 'inherit',
    },
  );
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      stopLoad();
      suite.kill(signal);
    });
  }
  suite.on('exit', (code, signal) => {
    stopLoad();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const status = code ?? 1;
    console.log(
      `[test:stress] suite ${status === 0 ? 'passed' : 'FAILED'} (exit ${signal ?? status}) in ${seconds} s under ${workers} load process(es)`,
    );
    process.exitCode = status;
  });
}
