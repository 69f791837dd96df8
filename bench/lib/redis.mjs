// A throw-away redis-server for the `redis` scenario: Debian's binary (or
// BOARDCAST_REDIS_SERVER), a free port on 127.0.0.1, no persistence, pinned
// like the servers, killed at the end. Its CPU is read from /proc so the
// report can show what Redis itself cost during the window.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { freePort } from '../../test-support/ports.mjs';

// An explicit BOARDCAST_REDIS_SERVER is the only candidate (a wrong path is
// reported as missing rather than silently replaced by another binary).
export const redisServerPath = (
  process.env.BOARDCAST_REDIS_SERVER
    ? [process.env.BOARDCAST_REDIS_SERVER]
    : ['/usr/bin/redis-server', '/usr/local/bin/redis-server']
).find((p) => existsSync(p));

const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));
const NICE = ['/usr/bin/nice', '/bin/nice'].find((p) => existsSync(p));

export async function startRedis({ cpus, nice } = {}) {
  if (!redisServerPath) throw new Error('redis-server not found (apt-get install redis-server)');
  const port = await freePort();
  const argv = [redisServerPath, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  // taskset and nice exec redis-server, so the pid stays the server's.
  if (cpus !== undefined && TASKSET) argv.unshift(TASKSET, '-c', String(cpus));
  if (nice !== undefined && NICE) argv.unshift(NICE, '-n', String(nice));
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${out}`)), 10_000);
    const onData = (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code ?? signal}):\n${out}`));
    });
  });
  proc.stdout.resume();
  proc.stderr.resume();
  const ticks = 100; // USER_HZ on Linux
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: proc.pid,
    /** utime + stime of redis-server in µs, or null off Linux. */
    cpuUs() {
      try {
        const stat = readFileSync(`/proc/${proc.pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return ((Number(f[11]) + Number(f[12])) / ticks) * 1e6;
      } catch {
        return null;
      }
    },
    /** RSS of redis-server in bytes. */
    rss() {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
        return m ? Number(m[1]) * 1024 : null;
      } catch {
        return null;
      }
    },
    stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
      const done = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      return done;
    },
  };
}
