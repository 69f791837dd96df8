import { BoardcastError, type Bus, type BusListener, createHub, MemoryBus } from '@boardcast/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type LooseHub, publishReported } from '../src/bind.js';
import { bindBoardStatus, bindInputs, bindLed, bindSensor, Led, SimulatedBoard } from '../src/index.js';
import { demoBoard, demoContract, demoState } from './demo-contract.js';

// The binding helpers publish from board callbacks, where nobody awaits. A
// bus that rejects (Redis away long enough to fill `maxPendingPublishes`:
// `queue_full`; a closed hub: `closed`) must neither crash the process with
// an unhandled rejection nor go unreported: each failure reaches the hub's
// `error` event once, `where` = 'publish', like every other publish.

/**
 * A bus whose every publish rejects the way RedisBus does once its
 * pending-publish queue is full; the rest is the in-memory bus.
 */
class FullBus implements Bus {
  readonly #memory = new MemoryBus();
  readonly attempts: string[] = [];
  get headId(): string | undefined {
    return this.#memory.headId;
  }
  publish(event: string): Promise<string> {
    this.attempts.push(event);
    return Promise.reject(new BoardcastError('queue_full', 'too many publishes waiting for Redis'));
  }
  subscribe(listener: BusListener): () => void {
    return this.#memory.subscribe(listener);
  }
  since(lastId: string, channel?: string): ReturnType<MemoryBus['since']> {
    return this.#memory.since(lastId, channel);
  }
  compareIds(a: string, b: string): number | undefined {
    return this.#memory.compareIds(a, b);
  }
  close(): void {
    this.#memory.close();
  }
}

/** Every rejection nobody handled while the test ran (Node ends the process on one by default). */
let escaped: unknown[] = [];
const onUnhandled = (reason: unknown) => escaped.push(reason);
beforeEach(() => {
  escaped = [];
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** Node reports unhandled rejections after the microtask queue drains: let a few macrotask turns pass. */
async function turns(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

function reportedOn(hub: { on(event: 'error', fn: (error: unknown, where?: string) => void): () => void }) {
  const errors: Array<{ code: string | undefined; where: string | undefined }> = [];
  hub.on('error', (error, where) =>
    errors.push({ code: error instanceof BoardcastError ? error.code : String(error), where }),
  );
  return errors;
}

describe('binding helpers on a bus whose publish rejects', () => {
  it('every helper: no unhandled rejection, each failed publish reported once on the hub, the board keeps working', async () => {
    const bus = new FullBus();
    const hub = createHub(demoContract, { state: demoState(), bus });
    const errors = reportedOn(hub);
    const { board, led, button, sensor } = await demoBoard(21.5);
    await board.pinMode(7, 'input');

    bindLed(hub, led); // publishes the known state at once
    bindInputs(hub, [button, { board, pin: 7 }]); // the button's level once ready
    bindSensor(hub, sensor);
    bindBoardStatus(hub, board); // the current status at once
    await turns();
    expect(bus.attempts).toEqual(['led', 'board', 'pin_change']);

    // The command still switches the LED (the board is fine; only the bus is not).
    expect(await hub.call('led', { state: 'on' })).toEqual({ on: true });
    expect(board.peek(5)).toBe(1);
    board.press(0); // Button edge
    board.setInput(7, 1); // raw pin edge
    await sensor.sample();
    board.goOffline();
    await turns();

    expect(bus.attempts).toEqual(['led', 'board', 'pin_change', 'led', 'pin_change', 'pin_change', 'reading', 'board']);
    expect(errors).toEqual(bus.attempts.map(() => ({ code: 'queue_full', where: 'publish' })));
    expect(escaped).toEqual([]);
    await hub.close();
  });

  it('a board registered as a channel of that hub, with its LED bound to the channel: same', async () => {
    const bus = new FullBus();
    const hub = createHub(demoContract, { state: demoState(), bus });
    const errors = reportedOn(hub);
    const board = new SimulatedBoard({ id: 'kitchen' });
    const led = new Led(board, 5);
    await led.ready;
    const { channel } = board.register(hub, 'kitchen');
    bindLed(channel, led);
    await led.toggle();
    board.goOffline();
    await turns();
    // The status event at registration and on going offline, the LED at bind time and on toggle.
    expect(bus.attempts.filter((e) => e === 'board' || e === 'led')).toEqual(['board', 'led', 'led', 'board']);
    expect(errors.filter((e) => e.where === 'publish')).toEqual(
      ['board', 'led', 'led', 'board'].map(() => ({ code: 'queue_full', where: 'publish' })),
    );
    expect(escaped).toEqual([]);
    await hub.close();
  });

  it('after the hub closed (shut down before its boards): board events still arrive, nothing is published, logged or escapes', async () => {
    const hub = createHub(demoContract, { state: demoState() });
    const { board, led, button, sensor } = await demoBoard(3);
    const other = new SimulatedBoard({ id: 'other' });
    bindLed(hub, led);
    bindInputs(hub, [button]);
    bindSensor(hub, sensor);
    bindBoardStatus(hub, board);
    bindBoardStatus(hub.channel('other'), other); // through a channel: its hub is the one closed
    await turns();
    const published: string[] = [];
    hub.subscribe((e) => published.push(e.event));

    await hub.close();
    // A closed hub has dropped its error listeners: core's emitter would
    // print a trace per refused publish (core README, _The error route_).
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      await led.turnOn();
      board.press(0);
      await sensor.sample();
      board.goOffline();
      other.goOffline();
      await turns();
      expect(logged.mock.calls).toEqual([]);
    } finally {
      logged.mockRestore();
    }
    expect(published).toEqual([]);
    expect(escaped).toEqual([]);
    // The board is unharmed: the LED switched.
    expect(board.peek(5)).toBe(1);
  });

  it('publishReported consumes the rejection itself, whatever the target does with its own promise', async () => {
    // A target that leaves its rejected promise to the caller (the hub also
    // handles its own; the helpers must not depend on that).
    const target: LooseHub = {
      publish: () => Promise.reject(new BoardcastError('bus_unavailable', 'bus is gone')),
      handle: () => () => undefined,
    };
    publishReported(target, 'led', { on: true });
    publishReported(target, 'board', { id: 'x', status: 'offline' });
    await turns();
    expect(escaped).toEqual([]);
  });
});
