/**
 * A Node script run the way its README runs it (`node scripts/start.mjs …`
 * in the example's folder), for the examples' start tests: its stdout and
 * stderr collected into one log the test reads, and a stop that waits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { onTestFinished } from 'vitest';

export interface RunningScript {
  readonly child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far, in the order it arrived. */
  output(): string;
  /** Resolves once the process has exited (or failed to start). */
  readonly exited: Promise<void>;
  /**
   * Resolves once the process has exited and its stdout and stderr are read to
   * the end (or it failed to start): all it wrote has reached `output()` and
   * any other 'data' listener of `child.stdout`/`child.stderr`.
   */
  readonly closed: Promise<void>;
  /** Send `signal` (default SIGKILL) unless it has exited, and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `node <args…>` in `cwd`, with `env` added to this process's environment. */
export function runScript(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): RunningScript {
  const child = spawn(process.execPath, [...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      output += `\n[spawn error] ${error.message}\n`;
      resolve();
    });
  });
  const closed = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  return {
    child,
    output: () => output,
    exited,
    closed,
    async stop(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/**
 * `runScript` for a command line the script should refuse: resolves once it has exited and its
 * output is read to the end, with its exit code, what it wrote to stderr and all its output.
 * Should it accept the command line and serve instead, it is stopped when the running test ends
 * (which then times out), not left running.
 */
export async function runScriptToExit(
  cwd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stderr: string; output: string }> {
  const script = runScript(cwd, args, env);
  onTestFinished(() => script.stop());
  let stderr = '';
  script.child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await script.closed;
  return { code: script.child.exitCode, stderr, output: script.output() };
}
