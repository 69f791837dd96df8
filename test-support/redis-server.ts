/** A real redis-server for tests that need one (bus-redis, the LED demo on Redis). */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisServerPath } from './system.js';

/** A free TCP port on 127.0.0.1 (the OS picks it; we release it for redis-server). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  /** Kill with SIGKILL (no shutdown save) and wait for the exit. */
  kill(): Promise<void>;
  /** Start again on the same port and directory (data survives when persistent). */
  start(): Promise<void>;
  /** Kill and remove the data directory. */
  stop(): Promise<void>;
}

/**
 * A real redis-server on 127.0.0.1. `persistent` turns on the append-only
 * file with fsync on every write, so a SIGKILL loses nothing Redis
 * acknowledged: what the restart test checks is our code, not Redis' fsync
 * window.
 */
export async function startRedis(options: { persistent?: boolean } = {}): Promise<RedisProcess> {
  if (!redisServerPath) throw new Error('redis-server is not installed (apt-get install redis-server)');
  const binary = redisServerPath;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'boardcast-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--protected-mode', 'no'];
  if (options.persistent) args.push('--appendonly', 'yes', '--appendfsync', 'always');
  else args.push('--appendonly', 'no');
  let child: ChildProcess | undefined;

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      let output = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 15_000);
      proc.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${output}`));
      });
    });

  const kill = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
