/**
 * `board.register(hub, channel)`: a SimulatedBoard or a LinuxGpioBoard (its
 * real helper over the emulated v2 chip) becomes a channel of the hub's
 * directory by itself, with its status as state of that channel.
 */
import { createHub, defineContract, typed } from '@boardcast/core';
import { describe, expect, it } from 'vitest';
import { pythonPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';
import {
  type BoardStatus,
  bindLed,
  boardEvents,
  boardReducers,
  Led,
  ledCommand,
  SimulatedBoard,
} from '../src/index.js';
import { useEmulatedChip } from './emulated-chip.js';

const contract = defineContract({
  events: { led: boardEvents.led, board: boardEvents.board },
  commands: { led: ledCommand },
  state: typed<{ led: { on: boolean }; board: { status: BoardStatus } }>(),
  reducers: { led: boardReducers.led, board: boardReducers.board },
});
const initial = { led: { on: false }, board: { status: 'offline' as BoardStatus } };

/** Wait until the channel's directory entry and its folded state both say `status`. */
async function statusIs(hub: ReturnType<typeof createHub<typeof contract>>, id: string, status: BoardStatus) {
  await waitFor(
    () => hub.directory.get(id)?.status === status && hub.channel(id).state.board.status === status,
    `channel ${id} ${status} in the directory and the state`,
  );
}

describe('SimulatedBoard.register', () => {
  it('one call makes the board a channel: directory entry, status as state, and the LED bound there', async () => {
    const hub = createHub(contract, { state: initial });
    const board = new SimulatedBoard({ id: 'sim-7', pins: [{ pin: 5, modes: ['output'] }] });
    const { channel } = board.register(hub, 'kitchen', { firmware: 'sim-1.0', name: 'Kitchen' });
    expect(channel.id).toBe('kitchen');
    bindLed(channel, new Led(board, 5));
    await statusIs(hub, 'kitchen', 'online');
    expect(hub.directory.get('kitchen')).toEqual({
      id: 'kitchen',
      kind: 'simulated',
      name: 'Kitchen',
      status: 'online',
      firmware: 'sim-1.0',
      capabilities: { pins: [{ pin: 5, modes: ['output'] }], sensors: [] },
      lastSeen: expect.any(Number),
    });
    expect(await hub.call('led', { state: 'on' }, { channel: 'kitchen' })).toEqual({ on: true });
    expect(channel.state.led).toEqual({ on: true });
    // The hub's own (default) channel is not the board's.
    expect(hub.state).toEqual(initial);

    board.goOffline();
    await statusIs(hub, 'kitchen', 'offline');
    board.goOnline();
    await statusIs(hub, 'kitchen', 'online');
    await board.close();
    await statusIs(hub, 'kitchen', 'offline');
    await hub.close();
  });

  it('refuses a second registration (busy), a closed board (closed) and a bad channel id; unregister stops following', async () => {
    const hub = createHub(contract, { state: initial });
    const board = new SimulatedBoard();
    const first = board.register(hub, 'a');
    expect(() => board.register(hub, 'b')).toThrow(expect.objectContaining({ code: 'busy' }));
    first.unregister();
    first.unregister();
    await statusIs(hub, 'a', 'online');
    board.goOffline();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(hub.directory.get('a')?.status).toBe('online');
    expect(hub.channel('a').state.board.status).toBe('online');

    const second = board.register(hub, 'b');
    await statusIs(hub, 'b', 'offline');
    board.goOnline();
    await statusIs(hub, 'b', 'online');
    second.unregister();

    expect(() => board.register(hub, 'has space')).toThrow(expect.objectContaining({ code: 'invalid_payload' }));
    await board.close();
    expect(() => board.register(hub, 'c')).toThrow(expect.objectContaining({ code: 'closed' }));
    expect(hub.directory.has('c')).toBe(false);
    await hub.close();
  });

  it('a contract without a `board` event needs `event` (a compile error otherwise); `false` registers the directory entry only', async () => {
    const bare = defineContract({
      events: { led: boardEvents.led },
      commands: {},
      state: typed<{ led: { on: boolean } }>(),
    });
    const hub = createHub(bare, { state: { led: { on: false } } });
    const board = new SimulatedBoard();
    // @ts-expect-error the contract has no `board` event: say which event carries status, or `false`
    const unsaid = () => board.register(hub, 'x');
    expect(unsaid).toBeTypeOf('function'); // never called: it would publish an event the contract lacks
    board.register(hub, 'y', { event: false, kind: 'esp32-sim' });
    await waitFor(() => hub.directory.get('y')?.status === 'online', 'directory entry');
    expect(hub.directory.get('y')?.kind).toBe('esp32-sim');
    await board.close();
    await waitFor(() => hub.directory.get('y')?.status === 'offline', 'offline after close');
    await hub.close();
  });
});

describe.skipIf(!pythonPath)('LinuxGpioBoard.register (real helper, emulated chip)', () => {
  const chip = useEmulatedChip('pi5', 2);

  it('registers with its kind, the helper as firmware and its lines; offline when the helper dies and when closed', async () => {
    const hub = createHub(contract, { state: initial });
    const board = await chip.open([5, 'GPIO17']);
    try {
      const { channel } = board.register(hub, 'pi-garage');
      bindLed(channel, new Led(board, 5));
      await statusIs(hub, 'pi-garage', 'online');
      expect(hub.directory.get('pi-garage')).toMatchObject({
        kind: 'linux-gpio',
        firmware: `boardcast-gpio-helper python3-libgpiod ${board.libgpiodVersion}`,
        capabilities: { pins: [{ pin: 5 }, { pin: 'GPIO17' }], sensors: [] },
      });
      expect(board.libgpiodVersion).not.toBe('');
      expect(await hub.call('led', { state: 'on' }, { channel: 'pi-garage' })).toEqual({ on: true });
      expect(await chip.gpio.level('pinctrl-rp1', 5)).toMatchObject({ level: 1 });

      // The helper dies: offline, then back online when supervision has restarted it.
      board.on('error', () => undefined);
      process.kill(board.helperPid!, 'SIGKILL');
      await statusIs(hub, 'pi-garage', 'offline');
      await statusIs(hub, 'pi-garage', 'online');
    } finally {
      await board.close();
    }
    await statusIs(hub, 'pi-garage', 'offline');
    await hub.close();
  });
});
