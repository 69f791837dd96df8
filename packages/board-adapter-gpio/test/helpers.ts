import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pythonPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';

export const AGENT_PATH = fileURLToPath(new URL('../agent/boardcast_agent.py', import.meta.url));

export { waitFor };

export async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export function newServer(): Server {
  return createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
}

export interface AgentProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[];
  send(line: string): void;
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

export interface AgentConfig {
  readonly [key: string]: unknown;
}

const tempDirs: string[] = [];

export function cleanupTemp(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Run the real agent file under `python` with a JSON config and the sim backend driven over stdin. */
export function startAgent(python: string, config: AgentConfig): AgentProcess {
  const dir = mkdtempSync(join(tmpdir(), 'boardcast-agent-'));
  tempDirs.push(dir);
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ backend: 'sim', stdin_control: true, ...config }));
  const child = spawn(python, ['-u', AGENT_PATH, '--config', file], { stdio: 'pipe' });
  const lines: string[] = [];
  let buffer = '';
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    send(line) {
      child.stdin.write(`${line}\n`);
    },
    waitForLine(pattern, timeoutMs = 10_000) {
      return waitFor(
        () => lines.find((l) => pattern.test(l)),
        `agent output ${pattern} (got:\n${lines.join('\n')})`,
        timeoutMs,
      );
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An LED output on pin 5 and a pulled-up button on pin 0, as the remote tests' agents declare them. */
export const AGENT_PINS: ReadonlyArray<{ pin: number; mode: string; name: string }> = [
  { pin: 5, mode: 'output', name: 'led' },
  { pin: 0, mode: 'input_pullup', name: 'button' },
];

/**
 * The real agent under `python3` (test-support's `pythonPath`: skip the test
 * where it is undefined) on its simulated backend, connecting to
 * `ws://127.0.0.1:<port>/board` as `id` with `token`: pins `AGENT_PINS`,
 * polling and debouncing every 5 ms, reconnecting after 100–400 ms, no
 * watchdog. `extra` overrides or adds config keys.
 */
export function startSimAgent(port: number, id: string, token: string, extra: AgentConfig = {}): AgentProcess {
  return startAgent(pythonPath as string, {
    id,
    url: `ws://127.0.0.1:${port}/board`,
    token,
    pins: AGENT_PINS,
    poll_ms: 5,
    debounce_ms: 5,
    backoff_min_ms: 100,
    backoff_max_ms: 400,
    watchdog_s: 0,
    ...extra,
  });
}
