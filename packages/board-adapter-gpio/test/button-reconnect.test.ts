/**
 * A Button whose setup is cut short by its board going offline sets itself
 * up again when the board is back: presses reach it, the interruption is
 * one typed `error`, and its pin is watched once (one `press` per press).
 */
import type { Server } from 'node:http';
import { BoardcastError } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  attachBoardLink,
  type BoardLink,
  Button,
  Led,
  type Level,
  type OperationOptions,
  type Pin,
  type PinEdgeEvent,
  SimulatedBoard,
  type WatchOptions,
} from '../src/index.js';
import { closeServer, listen, newServer, waitFor } from './helpers.js';
import { BoardDouble } from './remote-double.js';

const TOKEN = 'test-token-123';
const PINS = [{ pin: 0, modes: ['input', 'input_pullup'], mode: 'input_pullup' }];

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Presses, releases and errors a button reports, recorded. */
function record(button: Button): { presses: number; releases: number; errors: unknown[] } {
  const seen = { presses: 0, releases: 0, errors: [] as unknown[] };
  button.on('press', () => seen.presses++);
  button.on('release', () => seen.releases++);
  button.on('error', (error) => seen.errors.push(error));
  return seen;
}

function expectOneInterruption(errors: readonly unknown[], board: string): void {
  expect(errors).toHaveLength(1);
  const [error] = errors;
  expect(error).toBeInstanceOf(BoardcastError);
  expect(error).toMatchObject({ code: 'board_offline', details: { board, pin: 0 } });
  expect((error as BoardcastError).cause).toMatchObject({ code: 'board_offline' });
}

/**
 * A SimulatedBoard that can drop at the moment a read starts (after the
 * button's pinMode and watch went through) and counts the watches alive on it.
 */
class DropOnReadBoard extends SimulatedBoard {
  dropOnNextRead = false;
  watching = 0;

  override digitalRead(pin: Pin, options?: OperationOptions): Promise<Level> {
    if (this.dropOnNextRead) {
      this.dropOnNextRead = false;
      this.goOffline();
    }
    return super.digitalRead(pin, options);
  }

  override watch(pin: Pin, options: WatchOptions, listener: (edge: PinEdgeEvent) => void): () => void {
    const unwatch = super.watch(pin, options, listener);
    this.watching++;
    let active = true;
    return () => {
      if (active) this.watching--;
      active = false;
      unwatch();
    };
  }
}

describe('Button: setup cut short by the board going offline', () => {
  it('on a simulated board that drops during pinMode, sets up again once it is back', async () => {
    // The latency keeps pinMode in flight while the board drops.
    const board = new SimulatedBoard({ id: 'sim', latencyMs: 30 });
    cleanups.push(() => board.close());
    const button = new Button(board, 0, { debounceMs: 0 });
    cleanups.push(() => button.close());
    const seen = record(button);
    board.goOffline();
    await waitFor(() => seen.errors.length > 0, 'the interruption on error');
    expectOneInterruption(seen.errors, 'sim');

    board.goOnline();
    await button.ready;
    expect(button.level).toBe(1);
    board.press(0);
    await waitFor(() => seen.presses === 1, 'the press after the board came back');
    board.release(0);
    await waitFor(() => seen.releases === 1, 'the release');

    // Another drop and return: still one watch (one press per press), no new error.
    board.goOffline();
    board.goOnline();
    board.press(0);
    await waitFor(() => seen.presses === 2, 'the second press');
    board.release(0);
    await waitFor(() => seen.releases === 2, 'the second release');
    expect(seen.presses).toBe(2);
    expect(seen.errors).toHaveLength(1);
  });

  it('created while its simulated board is offline, works once the board is online', async () => {
    const board = new SimulatedBoard({ id: 'sim' });
    cleanups.push(() => board.close());
    board.goOffline();
    const button = new Button(board, 0, { debounceMs: 0 });
    cleanups.push(() => button.close());
    const seen = record(button);
    await waitFor(() => seen.errors.length > 0, 'the interruption on error');
    board.goOnline();
    await button.ready;
    board.press(0);
    await waitFor(() => seen.presses === 1, 'the press');
    expectOneInterruption(seen.errors, 'sim');
  });

  it('whose first read is cut short retries the read and keeps its one watch', async () => {
    const board = new DropOnReadBoard({ id: 'sim' });
    cleanups.push(() => board.close());
    board.dropOnNextRead = true;
    const button = new Button(board, 0, { debounceMs: 0 });
    cleanups.push(() => button.close());
    const seen = record(button);
    await waitFor(() => seen.errors.length > 0, 'the interruption on error');
    expect(board.watching).toBe(1);
    board.goOnline();
    await button.ready;
    expect(button.level).toBe(1);
    expect(board.watching).toBe(1);
    board.press(0);
    await waitFor(() => seen.presses === 1, 'the press');
    expectOneInterruption(seen.errors, 'sim');
    button.close();
    expect(board.watching).toBe(0);
  });

  describe('on a remote board', () => {
    let server: Server;
    let link: BoardLink;
    let port: number;

    async function start(): Promise<void> {
      server = newServer();
      link = attachBoardLink(server, { token: TOKEN, heartbeatMs: 1000, requestTimeoutMs: 10_000 });
      port = await listen(server, 0);
      cleanups.push(async () => {
        await link.close();
        await closeServer(server);
      });
    }

    function agent(): BoardDouble {
      const double = new BoardDouble({ port, token: TOKEN, id: 'esp', pins: PINS });
      double.levels['0'] = 1; // pull-up: idle high
      cleanups.push(() => double.close());
      return double;
    }

    /** What the agent does when its watched pin changes: an `edge` frame. */
    function edge(double: BoardDouble, value: 0 | 1): void {
      double.levels['0'] = value;
      double.ws.send(JSON.stringify({ type: 'edge', pin: 0, value }));
    }

    const watchesOfPin0 = (double: BoardDouble) =>
      double.executed.filter((r) => r.type === 'watch' && r.pin === 0).length;

    it('whose agent drops while the mode request is in flight, sets up again on reconnect', async () => {
      await start();
      const board = link.board('esp');
      const first = agent();
      await waitFor(() => board.status === 'online', 'the first agent online');

      // The agent stops answering, so the button's mode request is in flight
      // when the connection drops.
      first.paused = true;
      const button = new Button(board, 0, { debounceMs: 0 });
      cleanups.push(() => button.close());
      const seen = record(button);
      await waitFor(() => first.frames.some((f) => f.type === 'mode' && f.pin === 0), 'the mode request');
      first.close();
      await waitFor(() => seen.errors.length > 0, 'the interruption on error');
      expectOneInterruption(seen.errors, 'esp');

      const second = agent();
      await waitFor(() => board.status === 'online', 'the agent back online');
      await button.ready;
      // The pin is watched on the board again, once.
      await waitFor(() => watchesOfPin0(second) >= 1, 'the watch request');
      edge(second, 0);
      await waitFor(() => seen.presses === 1, 'the press through the reconnected agent');
      edge(second, 1);
      await waitFor(() => seen.releases === 1, 'the release');

      // Another drop and return: the board replays the one watch; one press per press.
      second.close();
      await waitFor(() => board.status === 'offline', 'the second agent gone');
      const third = agent();
      await waitFor(() => board.status === 'online', 'the third agent online');
      await waitFor(() => watchesOfPin0(third) >= 1, 'the replayed watch');
      edge(third, 0);
      await waitFor(() => seen.presses === 2, 'the second press');
      edge(third, 1);
      await waitFor(() => seen.releases === 2, 'the second release');
      expect(seen.presses).toBe(2);
      expect(watchesOfPin0(third)).toBe(1);
      expect(seen.errors).toHaveLength(1);
    });
  });
});

describe('Led: setup cut short by the board going offline', () => {
  it('on a simulated board that drops during pinMode, becomes an output once the board is back', async () => {
    const board = new SimulatedBoard({ id: 'sim', latencyMs: 30 });
    cleanups.push(() => board.close());
    const led = new Led(board, 5, { initial: true });
    cleanups.push(() => led.close());
    const errors: unknown[] = [];
    led.on('error', (error) => errors.push(error));
    board.goOffline();
    await waitFor(() => errors.length > 0, 'the interruption on error');
    expect(errors[0]).toBeInstanceOf(BoardcastError);
    expect(errors[0]).toMatchObject({ code: 'board_offline', details: { board: 'sim', pin: 5 } });
    await expect(led.turnOff()).rejects.toMatchObject({ code: 'board_offline' });

    board.goOnline();
    await led.ready;
    expect(board.peek(5)).toBe(1); // the pin started at `initial`
    expect(led.isOn).toBe(true);
    await expect(led.turnOff()).resolves.toBe(false);
    expect(board.peek(5)).toBe(0);
    expect(errors).toHaveLength(1);
  });

  it('closed while its setup waits for the board, rejects ready with closed', async () => {
    const board = new SimulatedBoard({ id: 'sim' });
    cleanups.push(() => board.close());
    board.goOffline();
    const led = new Led(board, 5);
    led.on('error', () => undefined);
    await waitFor(() => board.status === 'offline' && led.queued === 0, 'the setup attempt done');
    led.close();
    await expect(led.ready).rejects.toMatchObject({ code: 'closed' });
  });
});
