import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runScript } from '../../../test-support/run-script.js';
import { tempDirForSuite } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = tempDirForSuite('sensor-dashboard-cli-');

// A port listen() cannot take is refused with the command line's other mistakes: one line, the
// usage, exit 2 (it used to open the store, then die on ERR_SOCKET_BAD_PORT with a stack trace).
it('--port 70000: one line, the usage and exit 2', async () => {
  const app = runScript(root, ['scripts/start.mjs', '--port', '70000', '--no-device', '--db', join(dir.path, 'r.db')]);
  let stderr = '';
  app.child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await app.exited;
  expect(app.child.exitCode, app.output()).toBe(2);
  const [first, usage] = stderr.split('\n');
  expect(first).toBe('--port must be a port number, 0 to 65535 (got 70000)');
  expect(usage).toMatch(/^usage: pnpm --filter sensor-dashboard start/);
  expect(stderr).not.toMatch(/^\s+at /m);
}, 90_000);
