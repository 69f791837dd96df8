import { expect, it } from 'vitest';
import { runFleetCommand } from './helpers.js';

// The README's command, as printed: `pnpm --filter fleet start -- --boards …` runs scripts/start.mjs with a leading `--`.
it('pnpm --filter fleet start -- --boards 2 starts the fleet from sources', async () => {
  const { script, port } = await runFleetCommand(['--boards', '2']);
  try {
    const page = (await (await fetch(`http://127.0.0.1:${port}/api/directory`)).json()) as { total: number };
    expect(page.total).toBe(2);
  } finally {
    await script.stop('SIGTERM');
  }
}, 90_000);
