import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { waitFor } from '../../../test-support/wait.js';

// The README's command, as printed: `pnpm --filter fleet start -- --boards …` runs scripts/start.mjs with a leading `--`.
it('pnpm --filter fleet start -- --boards 2 starts the fleet from sources', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(
    process.execPath,
    ['scripts/start.mjs', '--', '--boards', '2', '--port', '0', '--host', '127.0.0.1'],
    {
      cwd,
    },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const url = await waitFor(() => /simulated boards on (http:\/\/\S+)/.exec(output)?.[1], 'the start line', 60_000);
    const port = new URL(url).port;
    const page = (await (await fetch(`http://127.0.0.1:${port}/api/directory`)).json()) as { total: number };
    expect(page.total).toBe(2);
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}, 90_000);
