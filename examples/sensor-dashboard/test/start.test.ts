import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from '@boardcast/browser-client';
import { afterEach, describe, expect, it } from 'vitest';
import { dashboard } from '../src/contract.js';
import { waitFor } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the start command', () => {
  let server: ChildProcess | undefined;
  let client: { close(): void } | undefined;
  afterEach(async () => {
    client?.close();
    if (server && server.exitCode === null) {
      server.kill('SIGKILL');
      await new Promise((resolve) => server?.once('exit', resolve));
    }
  });

  it('builds, serves the page and charts a simulated device that posts over HTTP', async () => {
    // Exactly what `pnpm --filter sensor-dashboard start` runs, on a free port.
    server = spawn(process.execPath, ['scripts/start.mjs', '--port', '0', '--interval', '100'], {
      cwd: root,
      env: { ...process.env, INGEST_TOKEN: 'start-test-token' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    server.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    server.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    const url = await waitFor(() => /sensor dashboard: (http:\S+)/.exec(output)?.[1], 'the URL to be printed', 60_000);
    const pid = Number(await waitFor(() => /device: simulated \(pid (\d+)\)/.exec(output)?.[1], 'the device pid'));
    expect(output).toMatch(/requires "Authorization: Bearer \$INGEST_TOKEN"/);

    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/app.js">');
    expect((await fetch(`${url}/app.js`)).status).toBe(200);

    // The device authenticates with the token it was given and its readings reach a client.
    const live = connect(`${url}/api`, dashboard, { transport: 'sse', eventSource: 'fetch' });
    client = live;
    let readings = 0;
    live.on('reading', () => {
      readings++;
    });
    await waitFor(() => readings >= 6, 'readings from the simulated device', 15_000);
    // The mirror folded the device's `device` events: it has been seen, and its readings counted.
    const state = await live.whenReady();
    await waitFor(() => (live.state?.device.readings ?? 0) >= 6, 'the device status to count its readings');
    expect(state.device.lastSeenAt).toEqual(expect.any(Number));
    expect(live.state?.device.lastSeenAt).toBeGreaterThan(Date.now() - 60_000);
    const unauthorised = await fetch(`${url}/api/readings`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"sensor":"light","value":1}',
    });
    expect(unauthorised.status).toBe(401);

    // Ctrl-C stops the server and its device.
    server.kill('SIGINT');
    await waitFor(() => server?.exitCode !== null, 'the server to exit');
    await waitFor(() => !alive(pid), 'the device process to exit');
  });
});
