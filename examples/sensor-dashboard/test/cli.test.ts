import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it, onTestFinished } from 'vitest';
import { runScript } from '../../../test-support/run-script.js';
import { tempDirForSuite } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = tempDirForSuite('sensor-dashboard-cli-');

/**
 * `node scripts/start.mjs <args>` (no simulated device, readings in the suite's temp dir) for a
 * command line it refuses: resolves when it has exited and its output is read to the end. Should
 * it accept `args` and serve instead, it is stopped when the test ends (which then times out).
 */
async function runToExit(args: readonly string[]): Promise<{ code: number | null; stderr: string; output: string }> {
  const app = runScript(root, ['scripts/start.mjs', ...args, '--no-device', '--db', join(dir.path, 'r.db')]);
  onTestFinished(() => app.stop());
  let stderr = '';
  app.child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await app.closed;
  return { code: app.child.exitCode, stderr, output: app.output() };
}

// A port listen() cannot take is refused with the command line's other mistakes: one line, the
// usage, exit 2 (it used to open the store, then die on ERR_SOCKET_BAD_PORT with a stack trace).
it('--port 70000: one line, the usage and exit 2', async () => {
  const { code, stderr, output } = await runToExit(['--port', '70000']);
  expect(code, output).toBe(2);
  const [first, usage] = stderr.split('\n');
  expect(first).toBe('--port must be a port number, 0 to 65535 (got 70000)');
  expect(usage).toMatch(/^usage: pnpm --filter sensor-dashboard start/);
  expect(stderr).not.toMatch(/^\s+at /m);
}, 90_000);
