/**
 * `board.register(hub, channel)`: a SimulatedBoard or a LinuxGpioBoard (its
 * real helper over the emulated v2 chip) becomes a channel of the hub's
 * directory by itself, with its status as state of that channel.
 */
import { createHub, defineContract, typed } from '@boardcast/core';
import { describe, expect, it, vi } from 'vitest';
import { pythonPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';
import {
  type BoardStatus,
  bindLed,
  boardEvents,
  boardReducers,
  Led,
  ledCommand,
  registerBoard,
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
    // Plain JS gets past the types: it throws at once instead of a hub `error` (`unknown event`) later.
    expect(unsaid).toThrow(
      expect.objectContaining({ code: 'invalid_payload', message: expect.stringContaining('"board"') }),
    );
    const misnamed = () => board.register(hub, 'x', { event: 'status' as never } /* as from plain JS */);
    expect(misnamed).toThrow(
      expect.objectContaining({ code: 'invalid_payload', details: { board: 'sim', event: 'status' } }),
    );
    expect(hub.hasChannel('x')).toBe(false); // nothing half-registered: the board is free to register
    board.register(hub, 'y', { event: false, kind: 'esp32-sim' });
    await waitFor(() => hub.directory.get('y')?.status === 'online', 'directory entry');
    expect(hub.directory.get('y')?.kind).toBe('esp32-sim');
    await board.close();
    await waitFor(() => hub.directory.get('y')?.status === 'offline', 'offline after close');
    await hub.close();
  });
});

describe('one board per channel of a hub (issue: a second board could take a registered channel)', () => {
  it('another board is refused (busy, naming the holder); it cannot mix the entry nor turn the channel offline', async () => {
    const hub = createHub(contract, { state: initial });
    const kitchen = new SimulatedBoard({ id: 'sim-7' });
    kitchen.register(hub, 'kitchen', { firmware: 'sim-1.0', name: 'Kitchen' });
    await statusIs(hub, 'kitchen', 'online');
    const intruder = new SimulatedBoard({ id: 'intruder' });
    const attempt = () => intruder.register(hub, 'kitchen', { firmware: 'evil' });
    expect(attempt).toThrow(
      expect.objectContaining({
        code: 'busy',
        message: expect.stringContaining('board "sim-7"'),
        details: { channel: 'kitchen', board: 'sim-7' },
      }),
    );
    // The same rule for a board from any source (a link agent, an MQTT device) through registerBoard.
    expect(() => registerBoard(hub.channel('kitchen'), intruder, { firmware: 'evil' })).toThrow(
      expect.objectContaining({ code: 'busy' }),
    );
    // A second object with the holder's id while the holder is online: two live boards, one channel.
    expect(() => new SimulatedBoard({ id: 'sim-7' }).register(hub, 'kitchen')).toThrow(
      expect.objectContaining({ code: 'busy' }),
    );
    // The refused board was not half-registered: it may register elsewhere.
    intruder.register(hub, 'hall').unregister();
    await intruder.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(hub.directory.get('kitchen')).toMatchObject({ firmware: 'sim-1.0', name: 'Kitchen', status: 'online' });
    expect(hub.channel('kitchen').state.board.status).toBe('online');

    // Released on close: another board takes the channel, and the closed one's registration is over.
    await kitchen.close();
    await statusIs(hub, 'kitchen', 'offline');
    const next = new SimulatedBoard({ id: 'sim-8' });
    next.register(hub, 'kitchen', { firmware: 'sim-2.0' });
    await statusIs(hub, 'kitchen', 'online');
    expect(hub.directory.get('kitchen')?.firmware).toBe('sim-2.0');
    // Released on unregister.
    const hall = new SimulatedBoard({ id: 'hall-1' });
    const registered = hall.register(hub, 'hall');
    expect(() => next.register(hub, 'hall')).toThrow(expect.objectContaining({ code: 'busy' })); // next holds kitchen
    expect(() => registerBoard(hub.channel('hall'), next)).toThrow(expect.objectContaining({ code: 'busy' }));
    registered.unregister();
    registerBoard(hub.channel('hall'), next)();
    // Per hub: another hub's channel of the same name is another channel.
    const other = createHub(contract, { state: initial });
    new SimulatedBoard({ id: 'elsewhere' }).register(other, 'kitchen');
    await next.close();
    await hall.close();
    await other.close();
    await hub.close();
  });

  it("a board with the holder's id takes the channel back while the holder is offline (an agent reconnecting)", async () => {
    const hub = createHub(contract, { state: initial });
    const before = new SimulatedBoard({ id: 'esp-1' });
    const old = before.register(hub, 'esp-1', { firmware: '1.0' });
    before.goOffline();
    await statusIs(hub, 'esp-1', 'offline');
    const after = new SimulatedBoard({ id: 'esp-1' });
    after.register(hub, 'esp-1', { firmware: '1.1' });
    await statusIs(hub, 'esp-1', 'online');
    expect(hub.directory.get('esp-1')?.firmware).toBe('1.1');
    // The old registration has ended: its board coming and going no longer reaches the channel,
    // its unregister() does not free the new holder's channel, and its board may register again.
    before.goOnline();
    before.goOffline();
    old.unregister();
    expect(() => new SimulatedBoard({ id: 'x' }).register(hub, 'esp-1')).toThrow(
      expect.objectContaining({ code: 'busy', details: { channel: 'esp-1', board: 'esp-1' } }),
    );
    await before.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(hub.directory.get('esp-1')?.status).toBe('online');
    expect(hub.channel('esp-1').state.board.status).toBe('online');
    await after.close();
    await hub.close();
  });
});

describe('a closed hub (issue: hub closed before the board printed unhandled error traces)', () => {
  it('registered boards fall silent once the hub is closed; register on a closed hub throws closed', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const hub = createHub(contract, { state: initial });
      hub.on('error', () => undefined);
      const board = new SimulatedBoard({ id: 'sim-9' });
      board.register(hub, 'kitchen');
      await statusIs(hub, 'kitchen', 'online');
      await hub.close();
      board.goOffline();
      board.goOnline();
      await board.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(errors.mock.calls.map((call) => String(call[0]))).toEqual([]);
      expect(() => new SimulatedBoard().register(hub, 'hall')).toThrow(
        expect.objectContaining({ code: 'closed', message: expect.stringContaining('hub is closed') }),
      );
      expect(() => registerBoard(hub.channel('porch'), new SimulatedBoard())).toThrow(
        expect.objectContaining({ code: 'closed' }),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(errors.mock.calls.map((call) => String(call[0]))).toEqual([]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      errors.mockRestore();
    }
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
