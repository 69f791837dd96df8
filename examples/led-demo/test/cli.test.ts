import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { portRefusals } from '../../../test-support/port-refusals.js';
import { runScriptToExit } from '../../../test-support/run-script.js';

const root = fileURLToPath(new URL('..', import.meta.url));

// A port listen() cannot take is one line naming where it came from and the value, then the usage,
// and exit 2 (`--port ''` and an empty PORT used to listen on a random port).
it.each(portRefusals)(
  'pnpm demo -- $args with $env: one line, the usage and exit 2',
  async ({ args, env, message }) => {
    const { code, stderr } = await runScriptToExit(root, ['scripts/start.mjs', '--', ...args], env);
    expect(code, stderr).toBe(2);
    const [first, blank, usage] = stderr.split('\n');
    expect(first).toBe(message);
    expect(blank).toBe('');
    expect(usage).toMatch(/^Usage: pnpm demo/);
    expect(stderr).not.toMatch(/^\s+at /m);
  },
  90_000,
);
