/**
 * What the LinuxGpioBoard tests share: an emulated chip per test with the
 * boards opened on it closed after the test, and the helper driven on its
 * own over its wire protocol.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach } from 'vitest';
import { EmulatedGpio, type Fixture, systemPython } from '../../../test-support/emulated-gpio/index.js';
import { pythonPath } from '../../../test-support/system.js';
import { LinuxGpioBoard, type LinuxGpioBoardOptions } from '../src/index.js';

export const HELPER = fileURLToPath(new URL('../gpio-helper/boardcast_gpio_helper.py', import.meta.url));

/** v1: Debian's python3-libgpiod 1.6.3 over the emulated character device (/usr/bin/python3); v2: the Python double. */
export function pythonFor(api: 1 | 2): string {
  return api === 1 ? systemPython : (pythonPath ?? 'python3');
}

export interface EmulatedChip {
  /** This test's chip (a new one per test). */
  readonly gpio: EmulatedGpio;
  /** The interpreter the helper runs under for this API. */
  readonly python: string;
  /** A LinuxGpioBoard on this test's chip, closed after the test. */
  open(pins: Array<number | string>, extra?: Partial<LinuxGpioBoardOptions>): Promise<LinuxGpioBoard>;
}

/** Call inside a `describe`: registers the hooks that start a chip before each test and close it and its boards after. */
export function useEmulatedChip(fixture: Fixture, api: 1 | 2): EmulatedChip {
  const python = pythonFor(api);
  const boards: LinuxGpioBoard[] = [];
  let gpio: EmulatedGpio | undefined;
  const current = (): EmulatedGpio => {
    if (!gpio) throw new Error('the emulated chip exists only while a test runs');
    return gpio;
  };
  beforeEach(async () => {
    gpio = await EmulatedGpio.start(fixture, api, pythonPath);
  });
  afterEach(async () => {
    for (const board of boards.splice(0)) await board.close();
    await current().close();
    gpio = undefined;
  });
  return {
    get gpio() {
      return current();
    },
    python,
    async open(pins, extra = {}) {
      const board = await LinuxGpioBoard.open({ pins, env: current().env, python, ...extra });
      boards.push(board);
      return board;
    },
  };
}

/** `open()`'s outcome: the error it rejected with, or `'opened'` (and the board closed again). */
export function openOutcome(options: LinuxGpioBoardOptions): Promise<unknown> {
  return LinuxGpioBoard.open(options).then(
    (board) => board.close().then(() => 'opened'),
    (error: unknown) => error,
  );
}

/** The helper on its own, request by request (its wire protocol). */
export class HelperDriver {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiters = new Map<number, (answer: Record<string, unknown>) => void>();
  #id = 0;
  #buffer = '';
  /** Resolves when the helper has exited. */
  readonly exited: Promise<unknown>;

  constructor(python: string, env: Record<string, string>) {
    this.#child = spawn(python, [HELPER], { env: { ...process.env, ...env } });
    this.exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdout.setEncoding('utf8');
    this.#child.stdout.on('data', (chunk: string) => {
      this.#buffer += chunk;
      for (let nl = this.#buffer.indexOf('\n'); nl >= 0; nl = this.#buffer.indexOf('\n')) {
        const frame = JSON.parse(this.#buffer.slice(0, nl)) as Record<string, unknown>;
        this.#buffer = this.#buffer.slice(nl + 1);
        if (frame.type === 'result') this.#waiters.get(frame.id as number)?.(frame);
      }
    });
  }

  send(request: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    return new Promise((resolve) => {
      this.#waiters.set(id, resolve);
      this.#child.stdin.write(`${JSON.stringify({ id, ...request })}\n`);
    });
  }

  /** Close the helper's stdin (what its parent's death does first), without waiting. */
  endInput(): void {
    this.#child.stdin.end();
  }

  kill(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  async close(): Promise<void> {
    this.endInput();
    await this.exited;
  }
}
