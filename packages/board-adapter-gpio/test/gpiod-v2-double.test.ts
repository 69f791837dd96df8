/**
 * The Python double of the gpiod 2.x binding (test-support/emulated-gpio/
 * pythonpath/gpiod) held to the real binding (libgpiod v2.2,
 * bindings/python/gpiod/chip.py) where a program could tell them apart.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pythonPath } from '../../../test-support/system.js';
import { useEmulatedChip } from './emulated-chip.js';

const run = promisify(execFile);

describe.skipIf(!pythonPath)('the gpiod 2.x double', () => {
  const chip = useEmulatedChip('pi5', 2);

  it('a Chip is true while open and false once closed; closing it again is ChipClosedError (as in 2.2)', async () => {
    const script = [
      'import os, gpiod',
      'chip = gpiod.Chip(os.path.join(os.environ["BOARDCAST_GPIO_DEV_DIR"], "gpiochip4"))',
      'print(bool(chip))',
      'chip.close()',
      'print(bool(chip))',
      'try:',
      '    chip.close()',
      'except gpiod.ChipClosedError as error:',
      '    print(error)',
    ].join('\n');
    const { stdout } = await run(chip.python, ['-c', script], { env: { ...process.env, ...chip.gpio.env } });
    expect(stdout.split('\n')).toEqual(['True', 'False', 'I/O operation on closed chip', '']);
  });
});
