// A real mosquitto for the benchmarks, on a free port of 127.0.0.1 with its
// own directory (MOSQUITTO=/path overrides /usr/sbin/mosquitto). Resolves once
// the broker logs that it is running.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../../../test-support/ports.mjs';

/**
 * `extra`: more lines for mosquitto.conf (`set_tcp_nodelay true`, …).
 * `kill()` is synchronous, for a `process.on('exit')` handler; `stop()` waits
 * for the broker to exit.
 */
export async function startMosquitto(extra = []) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'boardcast-bench-mosquitto-'));
  const config = join(dir, 'mosquitto.conf');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'log_dest stderr',
    ...extra,
  ];
  if (process.getuid?.() === 0) lines.push('user root');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const proc = spawn(process.env.MOSQUITTO ?? '/usr/sbin/mosquitto', ['-c', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stderr });
    rl.on('line', (line) => {
      if (/running/.test(line)) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`mosquitto exited with ${code}`)));
  });
  const kill = () => {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    url: `mqtt://127.0.0.1:${port}`,
    kill,
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
