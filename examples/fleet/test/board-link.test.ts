import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';
import { type Fleet, startFleet } from '../src/server.js';

const AGENT = fileURLToPath(new URL('../../../packages/board-adapter-gpio/agent/boardcast_agent.py', import.meta.url));

/** The real agent under CPython with its simulated backend. */
function startAgent(port: number, id: string, token: string) {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-agent-'));
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      id,
      url: `ws://127.0.0.1:${port}/board`,
      token,
      backend: 'sim',
      pins: [
        { pin: 5, mode: 'output', name: 'led' },
        { pin: 0, mode: 'input_pullup', name: 'button' },
      ],
      backoff_min_ms: 100,
      backoff_max_ms: 500,
    }),
  );
  const child = spawn(pythonPath as string, ['-u', AGENT, '--config', config]);
  const output: string[] = [];
  child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    output,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!pythonPath)('fleet: boards that say hello become channels (the real agent under python3)', () => {
  let fleet: Fleet;
  const agents: ReturnType<typeof startAgent>[] = [];

  beforeAll(async () => {
    fleet = await startFleet({
      port: 0,
      host: '127.0.0.1',
      boards: 0,
      log: false,
      boardLink: { 'esp32-1': 'token-of-esp32-1', 'esp32-2': 'token-of-esp32-2' },
    });
  });
  afterAll(async () => {
    for (const agent of agents) await agent.kill();
    await fleet?.close();
  });

  it('an agent appears in the directory under its id, online, and its LED is switched through its channel', async () => {
    const agent = startAgent(fleet.port, 'esp32-1', 'token-of-esp32-1');
    agents.push(agent);
    await waitFor(() => fleet.hub.directory.get('esp32-1')?.status === 'online', 'esp32-1 online', 20_000);
    expect(fleet.hub.directory.get('esp32-1')).toMatchObject({ id: 'esp32-1', kind: 'remote', status: 'online' });
    expect(await fleet.hub.call('led', { state: 'on' }, { channel: 'esp32-1' })).toEqual({ on: true });
    expect(fleet.hub.channel('esp32-1').state.led).toEqual({ on: true });
    // Another board's token does not let a board claim this id.
    const impostor = startAgent(fleet.port, 'esp32-1', 'token-of-esp32-2');
    agents.push(impostor);
    await waitFor(() => /401|token/.test(impostor.output.join('')), 'the impostor refused', 20_000);
    expect(fleet.hub.directory.get('esp32-1')?.status).toBe('online');
    // Killed: offline in the directory and in the channel's state, on every page.
    await agent.kill();
    await waitFor(() => fleet.hub.directory.get('esp32-1')?.status === 'offline', 'esp32-1 offline', 30_000);
    expect(fleet.hub.channel('esp32-1').state.board).toEqual({ status: 'offline' });
  });
});
