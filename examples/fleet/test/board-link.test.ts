import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimAgent } from '../../../packages/board-adapter-gpio/test/helpers.js';
import { pythonPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';
import type { Fleet } from '../src/server.js';
import { startTestFleet } from './helpers.js';

/** The real agent under CPython with its simulated backend (the board tests' launcher), reconnecting after 100–500 ms. */
function startAgent(port: number, id: string, token: string) {
  return startSimAgent(port, id, token, { backoff_max_ms: 500 });
}

describe.skipIf(!pythonPath)('fleet: boards that say hello become channels (the real agent under python3)', () => {
  let fleet: Fleet;
  const agents: ReturnType<typeof startAgent>[] = [];

  beforeAll(async () => {
    fleet = await startTestFleet({
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
    await waitFor(() => /401|token/.test(impostor.lines.join('\n')), 'the impostor refused', 20_000);
    expect(fleet.hub.directory.get('esp32-1')?.status).toBe('online');
    // Killed: offline in the directory and in the channel's state, on every page.
    await agent.kill();
    await waitFor(() => fleet.hub.directory.get('esp32-1')?.status === 'offline', 'esp32-1 offline', 30_000);
    expect(fleet.hub.channel('esp32-1').state.board).toEqual({ status: 'offline' });
  });
});

describe.skipIf(!pythonPath)(
  'fleet: an agent that comes back after the link forgot it (the real agent under python3)',
  () => {
    let fleet: Fleet;
    const agents: ReturnType<typeof startAgent>[] = [];

    beforeAll(async () => {
      fleet = await startTestFleet({
        boardLink: { 'esp32-3': 'token-of-esp32-3' },
        // Forget a board 200 ms after it left (default 10 min): its row goes, and it comes back as a new
        // RemoteBoard object on a new row.
        boardLinkOptions: { retentionMs: 200 },
      });
    });
    afterAll(async () => {
      for (const agent of agents) await agent.kill();
      await fleet?.close();
    });

    it('the new board object is bound: commands reach the agent, its inputs reach the channel', async () => {
      const link = fleet.link!;
      const linked = () => link.boards.find((b) => b.id === 'esp32-3');
      const first = startAgent(fleet.port, 'esp32-3', 'token-of-esp32-3');
      agents.push(first);
      await waitFor(() => fleet.hub.directory.get('esp32-3')?.status === 'online', 'esp32-3 online', 20_000);
      const before = linked();
      await first.kill();
      // Offline for retentionMs (200 ms here), then forgotten by the link and removed from the fleet.
      await waitFor(() => linked() === undefined, 'the link forgot esp32-3', 30_000);
      await waitFor(() => !fleet.hub.directory.has('esp32-3'), 'esp32-3 out of the directory', 20_000);
      expect(fleet.hub.hasChannel('esp32-3')).toBe(false);

      const again = startAgent(fleet.port, 'esp32-3', 'token-of-esp32-3');
      agents.push(again);
      await waitFor(() => linked()?.status === 'online', 'the new esp32-3 online on the link', 20_000);
      expect(linked()).not.toBe(before);

      // A command from the hub reaches the agent that is connected now.
      expect(await fleet.hub.call('led', { state: 'on' }, { channel: 'esp32-3' })).toEqual({ on: true });
      await waitFor(() => /write 5 1/.test(again.lines.join('\n')), 'the agent drove pin 5', 20_000);
      expect(fleet.hub.channel('esp32-3').state.led).toEqual({ on: true });

      // An input change on the agent reaches the channel (pull-up button: pressed is level 0).
      await waitFor(() => fleet.hub.channel('esp32-3').state.inputs['0']?.level === 1, 'button released', 20_000);
      again.send('press 0');
      await waitFor(
        () => fleet.hub.channel('esp32-3').state.inputs['0']?.level === 0,
        'the press on the channel',
        20_000,
      );

      // And the channel follows the new object's status, in the directory and in its state.
      await waitFor(() => fleet.hub.directory.get('esp32-3')?.status === 'online', 'esp32-3 online again', 20_000);
      expect(fleet.hub.channel('esp32-3').state.board).toEqual({ status: 'online' });
    }, 180_000);
  },
);

describe.skipIf(!pythonPath)('fleet: an agent with a simulated board id (the real agent under python3)', () => {
  let fleet: Fleet;
  let agent: ReturnType<typeof startAgent> | undefined;
  const lines: string[] = [];

  beforeAll(async () => {
    fleet = await startTestFleet({
      boards: 1,
      log: (line) => lines.push(line),
      boardLink: { 'board-1': 'token-of-board-1' },
    });
  });
  afterAll(async () => {
    await agent?.kill();
    await fleet?.close();
  });

  it('is refused with a log line; the simulated board keeps its channel', async () => {
    agent = startAgent(fleet.port, 'board-1', 'token-of-board-1');
    await waitFor(
      () => lines.some((l) => l === 'remote board-1: refused, a simulated board has this id'),
      'the refusal logged',
      20_000,
    );
    expect(fleet.hub.directory.get('board-1')).toMatchObject({ kind: 'simulated', status: 'online' });
    expect(await fleet.hub.call('led', { state: 'on' }, { channel: 'board-1' })).toEqual({ on: true });
    expect(fleet.boards.get('board-1')?.peek(5)).toBe(1);
    expect(agent.lines.join('\n')).not.toMatch(/write 5 1/);
  }, 120_000);
});
