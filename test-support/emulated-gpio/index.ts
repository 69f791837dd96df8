/**
 * An emulated GPIO chip for tests, with real Raspberry Pi line-name tables.
 *
 * - uAPI v1 (api 1): the real `python3-libgpiod` 1.6.3 and `libgpiod2` of
 *   Debian bookworm run unmodified over `uapi-v1/gpio_cdev_v1.c`, an
 *   LD_PRELOAD library that emulates the GPIO character device at the kernel
 *   boundary (open/stat/ioctl/read/close of /dev/gpiochipN), with the state
 *   every process shares kept by `uapi-v1/kernel_v1.py` (busy lines across
 *   processes, kernel-held lines, the 16-event queue that drops the newest,
 *   released outputs that keep their level). Run the helper with
 *   `systemPython` (/usr/bin/python3, where the binding is installed).
 * - uAPI v2 (api 2): no libgpiod 2 binding installs on bookworm, so a Python
 *   double of the `gpiod` 2.x bindings (`pythonpath/`) over
 *   `pythonpath/fakekernel.py` stands in, as strict as the v2 kernel (per-request
 *   event buffer dropping the oldest, released outputs keep their level).
 *
 * The real helper runs against either with real pipes: pass `gpio.env` to
 * `LinuxGpioBoard.open({ env })`.
 */
import { type ChildProcessByStdio, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

// EMULATED_GPIO_DIR: for bundled callers (the bench), whose import.meta.url is elsewhere.
const here = process.env.EMULATED_GPIO_DIR ?? fileURLToPath(new URL('.', import.meta.url));

export type Fixture = 'pi5' | 'pi4-mainline';

/** Debian's own interpreter, where `apt-get install python3-libgpiod` puts the binding (a `python3` first on PATH may lack it). */
export const systemPython = '/usr/bin/python3';

/** True when the real libgpiod 1.6 binding and gcc are installed (`apt-get install python3-libgpiod gcc`). */
export function realBindingAvailable(): boolean {
  try {
    execFileSync(systemPython, ['-c', 'import gpiod; gpiod.Chip.OPEN_BY_PATH'], { stdio: 'ignore' });
    execFileSync('sh', ['-c', 'command -v gcc'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const V1_SOURCE = join(here, 'uapi-v1', 'gpio_cdev_v1.c');
const V1_LIBRARY = join(here, 'uapi-v1', 'build', 'libgpio_cdev_v1.so');

/**
 * Compile the LD_PRELOAD library when it is missing or older than its source
 * (`.ci/run` compiles it up front). Atomic rename: parallel test files may race.
 */
export function buildUapiV1Library(): string {
  if (existsSync(V1_LIBRARY) && statSync(V1_LIBRARY).mtimeMs >= statSync(V1_SOURCE).mtimeMs) return V1_LIBRARY;
  mkdirSync(dirname(V1_LIBRARY), { recursive: true });
  const tmp = `${V1_LIBRARY}.${process.pid}.tmp`;
  execFileSync('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-Werror', '-o', tmp, V1_SOURCE, '-ldl'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  renameSync(tmp, V1_LIBRARY);
  return V1_LIBRARY;
}

export interface LineLevel {
  readonly level: 0 | 1;
  readonly held: boolean;
  readonly consumer: string | null;
  readonly direction: 'input' | 'output' | null;
  /** Debounce period the holder asked the kernel for (v2 uAPI), ms. */
  readonly debounceMs: number | null;
  /** v2 double: a writer waits in a stalled write (see `stall`). */
  readonly stalled?: boolean;
}

export class EmulatedGpio {
  readonly dir: string;
  /** Environment for the helper: the fake `gpiod` on PYTHONPATH, the emulated /dev. */
  readonly env: Record<string, string>;
  readonly #world: ChildProcessByStdio<Writable, Readable, null>;
  readonly #waiters = new Map<number, (answer: Record<string, unknown>) => void>();
  #id = 0;

  readonly api: 1 | 2;

  private constructor(dir: string, api: 1 | 2, world: ChildProcessByStdio<Writable, Readable, null>) {
    this.dir = dir;
    this.api = api;
    this.#world = world;
    // As on a Pi under systemd: Python's stdout into a pipe is block-buffered
    // unless the helper itself avoids that. (Empty = unset for Python.)
    this.env =
      api === 1
        ? {
            LD_PRELOAD: V1_LIBRARY,
            GPIO_EMU_DIR: dir,
            BOARDCAST_GPIO_DEV_DIR: join(dir, 'dev'),
            PYTHONUNBUFFERED: '',
          }
        : {
            PYTHONPATH: join(here, 'pythonpath'),
            FAKE_GPIO_DIR: dir,
            FAKE_GPIOD_API: '2',
            BOARDCAST_GPIO_DEV_DIR: join(dir, 'dev'),
            PYTHONUNBUFFERED: '',
          };
    let buffer = '';
    world.stdout.setEncoding('utf8');
    world.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const answer = JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>;
        buffer = buffer.slice(nl + 1);
        const waiter = this.#waiters.get(answer.id as number);
        this.#waiters.delete(answer.id as number);
        waiter?.(answer);
      }
    });
  }

  /** Set up a chip table (real Raspberry Pi device-tree line names) and start the emulated kernel and the outside world. */
  static async start(fixture: Fixture, api: 1 | 2, python = 'python3'): Promise<EmulatedGpio> {
    if (api === 1) buildUapiV1Library();
    // Short: the kernel's socket path must fit sockaddr_un (108 bytes).
    const dir = mkdtempSync(join(tmpdir(), 'gpio-'));
    const script = api === 1 ? join(here, 'uapi-v1', 'kernel_v1.py') : join(here, 'world.py');
    const world = spawn(python, ['-u', script, dir, join(here, `${fixture}.json`)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        world.once('error', reject);
        world.once('exit', (code) => reject(new Error(`world.py exited ${code}`)));
        world.stdout.once('data', () => resolve());
      });
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    world.removeAllListeners('exit');
    return new EmulatedGpio(dir, api, world);
  }

  #send(
    op: string,
    chip: string,
    offset: number,
    extra: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    return new Promise((resolve, reject) => {
      this.#waiters.set(id, (answer) => (answer.ok ? resolve(answer) : reject(new Error(String(answer.error)))));
      this.#world.stdin.write(`${JSON.stringify({ id, op, chip, offset, ...extra })}\n`);
    });
  }

  /** Drive a line from outside (a button): 0/1, or null to let go (the bias decides). Resolves with the edge's kernel timestamp (ns) if one was sent. */
  async drive(chip: string, offset: number, level: 0 | 1 | null): Promise<bigint | undefined> {
    const answer = await this.#send('drive', chip, offset, { level });
    return typeof answer.ns === 'number' ? BigInt(answer.ns) : undefined;
  }

  /** The electrical level of a line now, and who holds it. */
  async level(chip: string, offset: number): Promise<LineLevel> {
    return (await this.#send('level', chip, offset)) as unknown as LineLevel;
  }

  /** Every level an output line was driven to while held, oldest first (the oscilloscope). */
  async history(chip: string, offset: number): Promise<Array<0 | 1>> {
    return (await this.#send('history', chip, offset)).levels as Array<0 | 1>;
  }

  /**
   * Drive a burst of levels in one go (edges stamped in order, nothing runs
   * in between): what a bouncing contact or a fast signal does while the
   * reader is busy. Resolves with each level's edge stamp (ns) or null.
   */
  async burst(chip: string, offset: number, levels: ReadonlyArray<0 | 1 | null>): Promise<Array<bigint | null>> {
    const answer = await this.#send('drive', chip, offset, { levels });
    return (answer.stamps as Array<number | null>).map((ns) => (typeof ns === 'number' ? BigInt(ns) : null));
  }

  /**
   * Make the next operation on the line fail with `errno` (default EIO):
   * `write` (set value), and on the v1 kernel also `read` (get value),
   * `request` (line request / reconfigure) and `events` (reading edges).
   */
  async fault(
    chip: string,
    offset: number,
    errno = 5,
    on: 'write' | 'read' | 'request' | 'events' = 'write',
  ): Promise<void> {
    await this.#send('fault', chip, offset, { errno, on });
  }

  /**
   * v2 double: hold the next write to the line before it takes effect
   * (`level()` then answers `stalled: true`) until `stall(chip, offset, false)`:
   * to act while a process is inside that write.
   */
  async stall(chip: string, offset: number, on = true): Promise<void> {
    await this.#send('stall', chip, offset, { on });
  }

  /** v1 kernel: a driver takes the line (`consumer` as the kernel shows it, e.g. "spi0 CS0"), or lets it go (null). */
  async claim(chip: string, offset: number, consumer: string | null): Promise<void> {
    await this.#send('claim', chip, offset, { consumer });
  }

  /** v1 kernel: events waiting in the holder's queue and edges the full queue dropped. */
  async stats(chip: string, offset: number): Promise<{ queued: number; dropped: number }> {
    return (await this.#send('stats', chip, offset)) as unknown as { queued: number; dropped: number };
  }

  async close(): Promise<void> {
    if (this.#world.exitCode === null) {
      const exited = new Promise((resolve) => this.#world.once('exit', resolve));
      this.#world.stdin.end();
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
