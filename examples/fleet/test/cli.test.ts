import { expect, it } from 'vitest';
import { portRefusals } from '../../../test-support/port-refusals.js';
import { runFleetToExit } from './helpers.js';

// A mistyped command line is one line saying what is wrong, then the usage, and exit 2: no stack
// trace, and no port left to fail later (`--port abc` used to reach listen() as NaN, `--port ''`
// to listen on a random port, and a bad PORT was blamed on --port).
it.each([
  { args: ['--bogus'], env: {}, message: "Unknown option '--bogus'" },
  { args: ['--boards'], env: {}, message: "Option '--boards <value>' argument missing" },
  { args: ['stray'], env: {}, message: "Unexpected argument 'stray'" },
  ...portRefusals,
])(
  'fleet $args with $env: one line, the usage and exit 2',
  async ({ args, env, message }) => {
    const { code, stderr } = await runFleetToExit(args, env);
    expect(code, stderr).toBe(2);
    const [first, blank, usage] = stderr.split('\n');
    expect(first).toContain(message);
    expect(blank).toBe('');
    expect(usage).toMatch(/^Usage: pnpm --filter fleet start/);
    expect(stderr).not.toMatch(/^\s+at /m);
  },
  90_000,
);
