import { createHub, defineContract, typed } from '@boardcast/core';
import { describe, expect, it, vi } from 'vitest';
import { waitFor } from '../../../test-support/wait.js';
import {
  Button,
  bindBoardStatus,
  bindInputs,
  bindLed,
  bindSimulator,
  boardEvents,
  boardReducers,
  Led,
  ledCommand,
  registerBoard,
  SimulatedBoard,
  simulateCommand,
} from '../src/index.js';

const contract = defineContract({
  events: { led: boardEvents.led, pin_change: boardEvents.pin_change, board: boardEvents.board },
  commands: { led: ledCommand, simulate: simulateCommand },
  state: typed<{
    led: { on: boolean };
    inputs: Record<string, { level: 0 | 1 }>;
    board: { status: 'online' | 'offline' };
  }>(),
  reducers: { led: boardReducers.led, pin_change: boardReducers.pin_change, board: boardReducers.board },
});

describe('boards as channels', () => {
  it('each board is a channel: its own LED, inputs, status and directory entry', async () => {
    // Every channel starts here: the same kind of board, the same inputs.
    const hub = createHub(contract, {
      state: { led: { on: false }, inputs: { '0': { level: 1 } }, board: { status: 'offline' } },
    });
    const boards = [new SimulatedBoard({ id: 'b1' }), new SimulatedBoard({ id: 'b2' })];
    for (const board of boards) {
      const channel = hub.channel(board.id);
      registerBoard(channel, board, { firmware: 'sim-1.0' });
      bindBoardStatus(channel, board);
      bindLed(channel, new Led(board, 5));
      bindInputs(channel, [new Button(board, 0)]);
      bindSimulator(channel, board);
    }
    await new Promise((r) => setTimeout(r, 10));
    expect(hub.directory.get('b1')).toMatchObject({
      id: 'b1',
      kind: 'simulated',
      status: 'online',
      firmware: 'sim-1.0',
      capabilities: { sensors: [] },
    });
    expect(await hub.call('led', { state: 'on' }, { channel: 'b2' })).toEqual({ on: true });
    expect(hub.channel('b2').state.led).toEqual({ on: true });
    expect(hub.channel('b1').state.led).toEqual({ on: false });
    // A page presses b1's button through the simulate command: only b1's state changes.
    await hub.call('simulate', { pin: 0, value: 0 }, { channel: 'b1' });
    await new Promise((r) => setTimeout(r, 30));
    expect(hub.channel('b1').state.inputs['0']?.level).toBe(0);
    expect(hub.channel('b2').state.inputs['0']?.level).toBe(1);
    const bad = await hub.dispatch('simulate', { pin: 0, value: 'x' }, { channel: 'b1' });
    expect(bad.ok ? 'ok' : bad.error.code).toBe('invalid_payload');
    // Status is state of the channel and a directory field.
    boards[0]?.goOffline();
    await new Promise((r) => setTimeout(r, 10));
    expect(hub.channel('b1').state.board).toEqual({ status: 'offline' });
    expect(hub.channel('b2').state.board).toEqual({ status: 'online' });
    expect(hub.directory.get('b1')?.status).toBe('offline');
    expect(hub.directory.get('b2')?.status).toBe('online');
  });

  it('registerBoard: one board per channel of a hub, whatever its source; the same board again takes it back', async () => {
    const hub = createHub(contract, {
      state: { led: { on: false }, inputs: {}, board: { status: 'offline' } },
    });
    const channel = hub.channel('esp-1');
    const board = new SimulatedBoard({ id: 'esp-1' });
    const first = registerBoard(channel, board, { firmware: '1.0', kind: 'remote' });
    // A board link agent that reconnects as the same board object registers again (a `connect`
    // listener that registers every time): the previous registration ends, so it is followed once.
    const second = registerBoard(channel, board, { firmware: '1.1', kind: 'remote' });
    await waitFor(() => hub.directory.get('esp-1')?.firmware === '1.1', 'the second registration described');
    const describe = vi.spyOn(channel, 'describe');
    board.goOffline();
    expect(describe.mock.calls).toEqual([[{ status: 'offline' }]]);
    // The ended registration's unregister does not free the channel held by the new one.
    first();
    const other = new SimulatedBoard({ id: 'mqtt-7' });
    expect(() => registerBoard(channel, other, { kind: 'mqtt' })).toThrow(
      expect.objectContaining({ code: 'busy', message: expect.stringContaining('board "esp-1" (simulated)') }),
    );
    second();
    registerBoard(channel, other, { kind: 'mqtt' });
    await waitFor(() => hub.directory.get('esp-1')?.kind === 'mqtt', 'the other board holds the channel');
    await hub.close();
  });
});
