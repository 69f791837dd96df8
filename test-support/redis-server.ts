/** A real redis-server for tests that need one (bus-redis, the LED demo on Redis). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemon, freePort } from './daemon.js';
import { redisServerPath } from './system.js';

export { freePort };

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
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'boardcast-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--protected-mode', 'no'];
  if (options.persistent) args.push('--appendonly', 'yes', '--appendfsync', 'always');
  else args.push('--appendonly', 'no');
  const { start, kill } = daemon({
    name: 'redis-server',
    binary: redisServerPath,
    args,
    ready: /Ready to accept connections/,
  });

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
