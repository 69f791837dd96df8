/**
 * The test double under LinuxGpioBoard's v1 tests, held to the kernel it
 * stands for: Debian's real python3-libgpiod 1.6.3 over the LD_PRELOAD uAPI
 * v1 emulation (test-support/emulated-gpio/uapi-v1) must meet the kernel's
 * rules — busy across processes, kernel-held lines, EPERM/EINVAL where
 * gpiolib-cdev.c returns them, libgpiod's own caching and chip.close(), the
 * 16-event queue dropping the newest, CLOCK_MONOTONIC stamps, a released
 * output keeping its level after its holder is SIGKILLed.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { EmulatedGpio, realBindingAvailable, systemPython } from '../../../test-support/emulated-gpio/index.js';
import { pythonPath } from '../../../test-support/system.js';
import { waitFor } from '../../../test-support/wait.js';

const RULES = fileURLToPath(new URL('../../../test-support/emulated-gpio/uapi-v1/kernel_rules.py', import.meta.url));
const RP1 = 'pinctrl-rp1';

function python(args: string[], env: Record<string, string>) {
  const child = spawn(systemPython, ['-u', RULES, ...args], { env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => out, err: () => err };
}

describe.skipIf(!realBindingAvailable())('the uAPI v1 emulation under the real python3-libgpiod', () => {
  const children: ChildProcessWithoutNullStreams[] = [];
  let gpio: EmulatedGpio | undefined;
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    await gpio?.close();
  });

  it('keeps the kernel rules the helper depends on', async () => {
    gpio = await EmulatedGpio.start('pi5', 1, pythonPath);
    await gpio.claim(RP1, 10, 'spi0 MOSI');
    const holder = python(['holder'], gpio.env);
    children.push(holder.child);
    await waitFor(() => holder.out().includes('held'), `the holder (${holder.err()})`, 20_000);
    const rules = python([], gpio.env);
    children.push(rules.child);
    await waitFor(
      () => rules.out().includes('ready') || rules.child.exitCode !== null,
      'the checks up to the burst',
      20_000,
    );
    expect(rules.err()).toBe('');
    await gpio.burst(
      RP1,
      7,
      Array.from({ length: 41 }, (_, i) => (i % 2 === 0 ? 0 : 1)),
    );
    rules.child.stdin.write('\n');
    expect(await rules.exited, rules.err()).toBe(0);
    expect(rules.out()).toContain('rules ok');

    // kill -9 of the holder: the kernel releases the line, the output keeps driving 1.
    expect(await gpio.level(RP1, 5)).toMatchObject({ held: true, consumer: 'holder', level: 1 });
    holder.child.kill('SIGKILL');
    await holder.exited;
    await waitFor(async () => !(await gpio!.level(RP1, 5)).held, 'GPIO5 released');
    expect(await gpio.level(RP1, 5)).toMatchObject({ level: 1, direction: 'output', consumer: null });
  }, 60_000);
});
