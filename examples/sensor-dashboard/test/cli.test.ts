import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { portRefusals } from '../../../test-support/port-refusals.js';
import { runScriptToExit } from '../../../test-support/run-script.js';
import { tempDirForSuite } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = tempDirForSuite('sensor-dashboard-cli-');

// A port listen() cannot take is refused with the command line's other mistakes: one line, the
// usage, exit 2 (70000 used to open the store, then die on ERR_SOCKET_BAD_PORT with a stack trace;
// an empty PORT fell back to 3001 and a bad one was blamed on --port).
it.each(portRefusals)(
  '$args with $env: one line, the usage and exit 2',
  async ({ args, env, message }) => {
    const { code, stderr, output } = await runScriptToExit(
      root,
      ['scripts/start.mjs', ...args, '--no-device', '--db', join(dir.path, 'r.db')],
      env,
    );
    expect(code, output).toBe(2);
    const [first, blank, usage] = stderr.split('\n');
    expect(first).toBe(message);
    expect(blank).toBe('');
    expect(usage).toMatch(/^Usage: pnpm --filter sensor-dashboard start/);
    expect(stderr).not.toMatch(/^\s+at /m);
  },
  90_000,
);
