/**
 * LinuxGpioBoard against the kernel's rules where the helper used to go
 * wrong (issue 26): an edge queue that overflows, a helper that dies, outputs
 * at the end, lines the kernel holds, a failed open. The v1 runs are Debian's
 * real python3-libgpiod 1.6.3 over the emulated character device
 * (test-support/emulated-gpio/uapi-v1); the v2 runs use the Python double of
 * the 2.x binding, as strict as the v2 kernel.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { realBindingAvailable } from '../../../test-support/emulated-gpio/index.js';
import { pythonPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';
import { Button, Led } from '../src/index.js';
import { HELPER, HelperDriver, useEmulatedChip } from './emulated-chip.js';

const RP1 = 'pinctrl-rp1';
const hasV1 = realBindingAvailable();
if (!hasV1 && process.env.BOARDCAST_REQUIRE_ALL === '1') {
  throw new Error('python3-libgpiod and gcc are required (apt-get install python3-libgpiod gcc)');
}

/** 41 edges starting from released (high, pull-up), ending pressed: the case. */
const BURST_41: Array<0 | 1> = Array.from({ length: 41 }, (_, i) => (i % 2 === 0 ? 0 : 1));

const apis = [...(hasV1 ? [1 as const] : []), ...(pythonPath ? [2 as const] : [])];

describe.each(apis)('LinuxGpioBoard and the kernel, gpiod v%i API', (api) => {
  const chip = useEmulatedChip('pi5', api);
  const { open, python } = chip;
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gpio-kernel-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([20, 0])(
    '41 edges while the helper is paused, ending pressed: the button shows pressed (debounce %i ms) and the loss is reported',
    async (debounceMs) => {
      const board = await open([17]);
      const overflows: Array<{ dropped: number | null }> = [];
      board.on('overflow', (info) => overflows.push(info));
      const button = new Button(board, 17, { debounceMs });
      await button.ready;
      expect(button.isPressed).toBe(false);
      const pid = board.helperPid!;
      process.kill(pid, 'SIGSTOP');
      try {
        await chip.gpio.burst(RP1, 17, BURST_41);
        if (api === 1) {
          // v1: the queue holds 16 and drops the newest: the last edge queued says "released".
          expect(await chip.gpio.stats(RP1, 17)).toMatchObject({ queued: 16, dropped: 25 });
        }
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await waitFor(() => button.isPressed, 'the button to show pressed (the line is low)');
      expect(button.level).toBe(0);
      if (api === 2 && debounceMs > 0) {
        // v2 debounces in the kernel: the burst settles there, nothing queues, nothing is lost.
        expect(overflows).toEqual([]);
      } else {
        await waitFor(() => overflows.length > 0, 'an overflow report');
        // v1 cannot say how many were lost; v2 numbers its events.
        expect(overflows[0]).toEqual({ pin: 17, dropped: api === 1 ? null : 25 });
      }
      expect(await board.digitalRead(17)).toBe(0);
      button.close();
    },
  );

  it('a helper killed with SIGKILL is restarted: lines requested again, the LED back at its level, the button watched, then online', async () => {
    const board = await open([5, 17], { restart: { initialDelayMs: 50 } });
    const led = new Led(board, 5);
    await led.ready;
    await led.turnOn();
    const button = new Button(board, 17);
    await button.ready;
    const statuses: string[] = [];
    const errors: unknown[] = [];
    board.on('status', (status) => statuses.push(status));
    board.on('error', (error) => errors.push(error));
    const before = board.helperPid;
    process.kill(before!, 'SIGKILL');
    await waitFor(() => board.status === 'offline', 'offline');
    // Offline meanwhile: every command fails at once, nothing is queued.
    await expect(board.digitalWrite(5, 0)).rejects.toMatchObject({ code: 'board_offline' });
    // The button is pressed while no helper runs.
    await chip.gpio.drive(RP1, 17, 0);
    await waitFor(() => board.status === 'online', 'online again', 20_000);
    expect(statuses).toEqual(['offline', 'online']);
    expect(errors).toMatchObject([{ code: 'board_offline' }]);
    expect(board.helperPid).not.toBe(before);
    // The LED never went dark: the kernel kept the level, the new request asked for it again.
    expect(await chip.gpio.level(RP1, 5)).toMatchObject({ level: 1, held: true, consumer: 'boardcast' });
    const history = await chip.gpio.history(RP1, 5);
    expect(history.slice(history.indexOf(1))).not.toContain(0);
    await waitFor(() => button.isPressed, 'the press made while the helper was down');
    expect(await led.turnOff()).toBe(false);
    expect(await chip.gpio.level(RP1, 5)).toMatchObject({ level: 0 });
    await chip.gpio.drive(RP1, 17, null);
    await waitFor(() => !button.isPressed, 'release seen by the new helper');
    button.close();
  });

  it('a helper that keeps dying: bounded restarts with backoff, then one clear board_offline error; offline for good', async () => {
    const helperPath = join(dir, 'helper.py');
    copyFileSync(HELPER, helperPath);
    const board = await open([5], { helperPath, restart: { maxRestarts: 3, initialDelayMs: 10, maxDelayMs: 40 } });
    await board.pinMode(5, 'output');
    const errors: Error[] = [];
    board.on('error', (error) => errors.push(error as Error));
    // From now on every new helper fails at start (a broken install).
    writeFileSync(helperPath, 'import sys\nsys.stderr.write("ImportError: gpiod\\n")\nsys.exit(3)\n');
    process.kill(board.helperPid!, 'SIGKILL');
    const gaveUp = await waitFor(
      () => errors.find((e) => /not restarting/.test(e.message)),
      'the board to give up',
      20_000,
    );
    expect(gaveUp).toMatchObject({ code: 'board_offline' });
    expect(gaveUp.message).toContain('ImportError: gpiod');
    expect(board.status).toBe('offline');
    // 1 exit + 3 failed restarts + the final word.
    expect(errors.filter((e) => /not restarting/.test(e.message))).toHaveLength(1);
    expect(errors).toHaveLength(5);
    await expect(board.digitalWrite(5, 1)).rejects.toMatchObject({ code: 'board_offline' });
  });

  it('end state: close() switches an LED off before releasing it; release "keep" leaves it on; SIGKILL of the helper leaves it as it was', async () => {
    const off = await open([5], { restart: false });
    const led = new Led(off, 5);
    await led.turnOn();
    await off.close();
    expect(await chip.gpio.level(RP1, 5)).toMatchObject({ level: 0, held: false });

    const kept = await open([5], { restart: false });
    const keep = new Led(kept, 5, { release: 'keep' });
    await keep.turnOn();
    await kept.close();
    expect(await chip.gpio.level(RP1, 5)).toMatchObject({ level: 1, held: false, direction: 'output' });

    const killed = await open([5], { restart: false });
    const lit = new Led(killed, 5);
    await lit.turnOn();
    killed.on('error', () => undefined);
    process.kill(killed.helperPid!, 'SIGKILL');
    await waitFor(() => killed.status === 'offline', 'offline');
    // Nothing can act after SIGKILL: the kernel releases the line and keeps its level.
    await waitFor(async () => !(await chip.gpio.level(RP1, 5)).held, 'released');
    expect(await chip.gpio.level(RP1, 5)).toMatchObject({ level: 1, direction: 'output' });
  });

  it('an active-low LED is switched off (line high) on close', async () => {
    const board = await open([5], { restart: false });
    const led = new Led(board, 5, { activeLow: true });
    await led.turnOn();
    expect(await chip.gpio.level(RP1, 5)).toMatchObject({ level: 0 });
    await board.close();
    expect(await chip.gpio.level(RP1, 5)).toMatchObject({ level: 1, held: false });
  });

  it.skipIf(api !== 1)(
    'kernel faults on request, read and edge reads are typed errors; the board goes on',
    async () => {
      const board = await open([5, 17]);
      const errors: Array<{ code?: string; message?: string }> = [];
      board.on('error', (error) => errors.push(error as { code?: string }));
      await chip.gpio.fault(RP1, 5, 5, 'request');
      await expect(board.pinMode(5, 'output')).rejects.toMatchObject({ code: 'handler_failed' });
      await board.pinMode(5, 'output');
      await chip.gpio.fault(RP1, 5, 5, 'read');
      await expect(board.digitalRead(5)).rejects.toMatchObject({ code: 'handler_failed' });
      expect(await board.digitalRead(5)).toBe(0);
      const button = new Button(board, 17, { debounceMs: 0 });
      await button.ready;
      await chip.gpio.fault(RP1, 17, 5, 'events');
      await chip.gpio.drive(RP1, 17, 0);
      await waitFor(() => errors.some((e) => /reading edges/.test(e.message ?? '')), 'the failed edge read reported');
      expect(board.status).toBe('online');
      // The queue kept the edge the failed read did not take: the next read delivers it.
      await chip.gpio.drive(RP1, 17, null);
      await chip.gpio.drive(RP1, 17, 0);
      await waitFor(() => button.isPressed, 'edges after the fault');
      button.close();
    },
  );

  it.skipIf(api !== 1)('a line a kernel driver holds is busy, naming the driver', async () => {
    await chip.gpio.claim(RP1, 8, 'spi0 CS0');
    const error = await open([8]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'busy', details: { consumer: 'spi0 CS0' } });
    expect((error as Error).message).toContain('gpiochip4 line 8 (GPIO8)');
  });

  it('a failed open leaves nothing half set up; a second open is refused, not a second set of chips', async () => {
    const helper = new HelperDriver(python, chip.gpio.env);
    try {
      const failed = await helper.send({ type: 'open', pins: [5, 'NOPE'] });
      expect(failed).toMatchObject({ ok: false, error: { code: 'unsupported' } });
      // Nothing of the failed attempt is held, and a retry starts clean: line 0 is pin 17.
      expect(await chip.gpio.level(RP1, 5)).toMatchObject({ held: false });
      const opened = await helper.send({ type: 'open', pins: [17] });
      expect(opened).toMatchObject({ ok: true, value: { lines: [{ offset: 17 }] } });
      expect(await helper.send({ type: 'mode', pin: 17, mode: 'input_pullup' })).toMatchObject({
        ok: true,
        value: 'input_pullup',
      });
      expect(await chip.gpio.level(RP1, 17)).toMatchObject({ held: true });
      expect(await chip.gpio.level(RP1, 5)).toMatchObject({ held: false });
      const again = await helper.send({ type: 'open', pins: [27] });
      expect(again).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
      // Pin 5 of the failed attempt is no pin of this helper.
      expect(await helper.send({ type: 'mode', pin: 5, mode: 'input' })).toMatchObject({
        ok: false,
        error: { code: 'unsupported' },
      });
    } finally {
      await helper.close();
    }
  });
});
