import { expect, it } from 'vitest';
import { runFleetToExit } from './helpers.js';

// A mistyped command line is one line saying what is wrong, then the usage, and exit 2: no stack
// trace, and no port left to fail later (`--port abc` used to reach listen() as NaN).
it.each([
  { args: ['--bogus'], message: "Unknown option '--bogus'" },
  { args: ['--boards'], message: "Option '--boards <value>' argument missing" },
  { args: ['stray'], message: "Unexpected argument 'stray'" },
  { args: ['--port', 'abc'], message: '--port must be a port number (0 to 65535)' },
  { args: ['--port', '70000'], message: '--port must be a port number (0 to 65535)' },
])(
  'fleet $args: one line, the usage and exit 2',
  async ({ args, message }) => {
    const { code, stderr } = await runFleetToExit(args);
    expect(code, stderr).toBe(2);
    const [first, blank, usage] = stderr.split('\n');
    expect(first).toContain(message);
    expect(blank).toBe('');
    expect(usage).toMatch(/^Usage: pnpm --filter fleet start/);
    expect(stderr).not.toMatch(/^\s+at /m);
  },
  90_000,
);
