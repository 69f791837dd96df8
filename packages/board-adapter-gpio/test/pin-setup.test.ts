/**
 * PinSetup, the setup-again-when-the-board-is-back state machine Button and
 * Led share: one attempt at a time, an `online` seen mid-attempt not lost,
 * one report of the interruption, any other failure final. The board is a
 * real SimulatedBoard (its `status` events drive the retries); the attempts
 * are scripted so each can be held open while the board changes.
 */
import { BoardcastError } from '@boardcast/core';
import { afterEach, describe, expect, it } from 'vitest';
import { Button, Led, SimulatedBoard } from '../src/index.js';
import { PinSetup } from '../src/pin-setup.js';
import { waitFor } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const offline = () => new BoardcastError('board_offline', 'board "sim" is offline');

/** Attempts that stay open until the test settles them, counted. */
function scripted() {
  const attempts: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  const attempt = () =>
    new Promise<void>((resolve, reject) => {
      attempts.push({ resolve, reject });
    });
  return { attempts, attempt };
}

function setUp(attempt: () => Promise<void>) {
  const board = new SimulatedBoard({ id: 'sim' });
  cleanups.push(() => board.close());
  const interruptions: BoardcastError[] = [];
  const setup = new PinSetup({ board, pin: 4, component: 'Thing', attempt, interrupted: (e) => interruptions.push(e) });
  cleanups.push(() => setup.finish());
  let settled: { ok: boolean; error?: unknown } | undefined;
  setup.ready.then(
    () => {
      settled = { ok: true };
    },
    (error: unknown) => {
      settled = { ok: false, error };
    },
  );
  return { board, setup, interruptions, settled: () => settled };
}

/** A PinSetup on scripted attempts, started: its first attempt is open. */
function startScripted() {
  const { attempts, attempt } = scripted();
  const rig = setUp(attempt);
  rig.setup.start();
  return { attempts, ...rig };
}

/** Let pending promise callbacks run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('PinSetup', () => {
  it('an attempt that succeeds resolves ready and stops following the board', async () => {
    const { attempts, board, setup, settled } = startScripted();
    expect(attempts).toHaveLength(1);
    attempts[0]?.resolve();
    await setup.ready;
    expect(setup.pending).toBe(false);
    expect(board.listenerCount('status')).toBe(0);
    board.goOffline();
    board.goOnline();
    await flush();
    expect(attempts).toHaveLength(1);
    expect(settled()).toEqual({ ok: true });
  });

  it('cut short by the board going offline: reported once, tried again at each online until it succeeds', async () => {
    const { attempts, board, setup, interruptions, settled } = startScripted();
    board.goOffline();
    attempts[0]?.reject(offline());
    await flush();
    expect(interruptions).toHaveLength(1);
    const [reported] = interruptions;
    expect(reported).toBeInstanceOf(BoardcastError);
    expect(reported).toMatchObject({ code: 'board_offline', details: { board: 'sim', pin: 4 } });
    expect(reported?.message).toBe(
      'Thing on board "sim" pin 4: setup interrupted by the board going offline; it sets up again when the board is back online',
    );
    expect(reported?.cause).toMatchObject({ code: 'board_offline' });

    for (let n = 1; n <= 3; n++) {
      board.goOnline();
      expect(attempts).toHaveLength(n + 1);
      board.goOffline();
      attempts[n]?.reject(offline());
      await flush();
    }
    // Three more interruptions, none reported again; ready still pending.
    expect(interruptions).toHaveLength(1);
    expect(settled()).toBeUndefined();
    expect(setup.pending).toBe(true);

    board.goOnline();
    attempts[4]?.resolve();
    await setup.ready;
    expect(attempts).toHaveLength(5);
    expect(interruptions).toHaveLength(1);
  });

  it('runs one attempt at a time, and retries at once when the board came back during a failing attempt', async () => {
    const { attempts, board, setup, interruptions } = startScripted();
    board.goOffline();
    board.goOnline(); // seen while attempt 1 runs: no second attempt yet
    board.goOffline();
    board.goOnline();
    expect(attempts).toHaveLength(1);
    attempts[0]?.reject(offline());
    // No further `online` comes: the one seen mid-attempt starts the retry.
    await waitFor(() => attempts.length === 2, 'the retry');
    expect(interruptions).toHaveLength(1);
    attempts[1]?.resolve();
    await setup.ready;
  });

  it('an online seen during one attempt does not make the next retry at once', async () => {
    const { attempts, board, setup } = startScripted();
    board.goOffline();
    board.goOnline();
    attempts[0]?.reject(offline());
    await waitFor(() => attempts.length === 2, 'the retry');
    // The board says offline to this request without a status change (a
    // request that raced a drop the link has not reported yet): wait for
    // the next online.
    attempts[1]?.reject(offline());
    await flush();
    expect(attempts).toHaveLength(2);
    board.goOffline();
    board.goOnline();
    expect(attempts).toHaveLength(3);
    expect(setup.pending).toBe(true);
  });

  it('does not retry at once when the board, back during the attempt, is offline again when it fails', async () => {
    const { attempts, board } = startScripted();
    board.goOffline();
    board.goOnline();
    board.goOffline();
    attempts[0]?.reject(offline());
    await flush();
    expect(attempts).toHaveLength(1);
    board.goOnline();
    expect(attempts).toHaveLength(2);
  });

  it('any other failure rejects ready with it and ends the retries', async () => {
    const { attempts, board, setup, interruptions, settled } = startScripted();
    const unsupported = new BoardcastError('unsupported', 'board "sim" pin 4: no such pin');
    attempts[0]?.reject(unsupported);
    await expect(setup.ready).rejects.toBe(unsupported);
    board.goOffline();
    board.goOnline();
    await flush();
    expect(attempts).toHaveLength(1);
    expect(interruptions).toHaveLength(0);
    expect(settled()).toEqual({ ok: false, error: unsupported });
  });

  it('an attempt that throws at once counts as a rejection', async () => {
    const boom = new BoardcastError('handler_failed', 'boom');
    const { setup } = setUp(() => {
      throw boom;
    });
    setup.start();
    await expect(setup.ready).rejects.toBe(boom);
  });

  it('finish() and fail() settle ready at once; the attempt still running counts for nothing', async () => {
    const a = startScripted();
    a.setup.finish();
    await a.setup.ready;
    a.attempts[0]?.reject(offline());
    a.board.goOffline();
    a.board.goOnline();
    await flush();
    expect(a.interruptions).toHaveLength(0);
    expect(a.attempts).toHaveLength(1);

    const b = startScripted();
    const closed = new BoardcastError('closed', 'closed');
    b.setup.fail(closed);
    await expect(b.setup.ready).rejects.toBe(closed);
    b.attempts[0]?.resolve();
    await flush();
    expect(b.settled()).toEqual({ ok: false, error: closed });
  });
});

describe('Button and Led: a setup failure other than the board going offline', () => {
  // A board whose pin 4 is input-only: an Led cannot drive it; pin 9 does not exist.
  const pins = [{ pin: 4, modes: ['input', 'input_pullup'] as const }];
  type Component = Pick<Button, 'ready' | 'close'> & { on(event: 'error', fn: (error: unknown) => void): unknown };
  const components: Record<string, (board: SimulatedBoard) => Component> = {
    Button: (board) => new Button(board, 9),
    Led: (board) => new Led(board, 4),
  };

  it.each(Object.entries(components))('%s: ready rejects with it, reported once on error', async (_, make) => {
    const board = new SimulatedBoard({ id: 'sim', pins });
    cleanups.push(() => board.close());
    const component = make(board);
    cleanups.push(() => component.close());
    const errors: unknown[] = [];
    component.on('error', (error) => errors.push(error));
    await expect(component.ready).rejects.toMatchObject({ code: 'unsupported' });
    await waitFor(() => errors.length > 0, 'the error event');
    await flush();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'unsupported' });
  });
});
