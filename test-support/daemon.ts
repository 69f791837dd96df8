/**
 * Start/stop of a real daemon for tests (redis-server, mosquitto, postgres):
 * one place for spawning it, waiting for its "ready" line, and signalling it.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export { freePort } from './ports.mjs';

export interface DaemonOptions {
  /** Shown in errors (`redis-server did not start: …`). */
  readonly name: string;
  readonly binary: string;
  readonly args: readonly string[];
  /** Matched against everything the daemon wrote to stdout and stderr so far. */
  readonly ready: RegExp;
  /** Default 15,000 ms. */
  readonly startTimeoutMs?: number;
  /** Working directory of the daemon. */
  readonly cwd?: string;
  /** Run as this user (a daemon that refuses root, under a root test run). */
  readonly uid?: number;
  readonly gid?: number;
}

export interface Daemon {
  /** Spawn and resolve once `ready` matched; rejects with the output when it exits or times out first. */
  start(): Promise<void>;
  /** SIGKILL (no clean shutdown: clients see a reset) and wait for the exit; nothing when not running. */
  kill(): Promise<void>;
  /** Send `signal` (a clean shutdown) and wait for the exit, with SIGKILL after 15 s; nothing when not running. */
  stop(signal: NodeJS.Signals): Promise<void>;
}

export function daemon(options: DaemonOptions): Daemon {
  let child: ChildProcess | undefined;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn(options.binary, [...options.args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        cwd: options.cwd,
        uid: options.uid,
        gid: options.gid,
      });
      child = proc;
      let output = '';
      let ready = false;
      const timer = setTimeout(
        () => reject(new Error(`${options.name} did not start:\n${output}`)),
        options.startTimeoutMs ?? 15_000,
      );
      // Once ready, the pipes are still drained (a full pipe would block the
      // daemon) but the log is no longer kept: a long test would grow it.
      const onData = (chunk: Buffer) => {
        if (ready) return;
        output += chunk.toString();
        if (options.ready.test(output)) {
          ready = true;
          output = '';
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${options.name} exited with ${code}:\n${output}`));
      });
    });
  const stop = async (signal: NodeJS.Signals) => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      proc.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      proc.kill(signal);
    });
  };
  return { start, kill: () => stop('SIGKILL'), stop };
}
