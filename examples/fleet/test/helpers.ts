import { fileURLToPath } from 'node:url';
import { type RunningScript, runScript, runScriptToExit } from '../../../test-support/run-script.js';
import { waitFor } from '../../../test-support/wait.js';
import { type Fleet, type FleetOptions, startFleet } from '../src/server.js';

/**
 * `startFleet` on a free port of 127.0.0.1 with no simulated boards, none of
 * their background button flips or readings, and no log; `options` override
 * any of these.
 */
export function startTestFleet(options: FleetOptions = {}): Promise<Fleet> {
  return startFleet({
    port: 0,
    host: '127.0.0.1',
    boards: 0,
    inputEveryMs: 0,
    readingEveryMs: 0,
    log: false,
    ...options,
  });
}

/**
 * The README's command, as printed: `pnpm --filter fleet start -- <args>`
 * runs scripts/start.mjs with a leading `--`; here on a free port of
 * 127.0.0.1. Resolves once it prints its address (stopped again if it never does).
 */
export async function runFleetCommand(args: readonly string[]): Promise<{ script: RunningScript; port: number }> {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const script = runScript(cwd, ['scripts/start.mjs', '--', '--port', '0', '--host', '127.0.0.1', ...args]);
  try {
    const url = await waitFor(
      () => /simulated boards on (http:\/\/\S+)/.exec(script.output())?.[1],
      'the start line',
      60_000,
    );
    return { script, port: Number(new URL(url).port) };
  } catch (error) {
    await script.stop();
    throw error;
  }
}

/**
 * `pnpm --filter fleet start -- <args>` (scripts/start.mjs) for a command line it refuses, `env`
 * added to the environment (see runScriptToExit: stopped when the test ends should it serve).
 */
export function runFleetToExit(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stderr: string }> {
  return runScriptToExit(fileURLToPath(new URL('..', import.meta.url)), ['scripts/start.mjs', '--', ...args], env);
}
