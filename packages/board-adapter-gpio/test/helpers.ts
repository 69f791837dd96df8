import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
    },
  };
}
