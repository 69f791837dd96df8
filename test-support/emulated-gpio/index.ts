/**
 * An emulated GPIO chip for tests: the kernel's part is played by
 * `pythonpath/fakekernel.py` underneath a strict fake of the `gpiod` Python
 * bindings (v1 or v2 API), with state on disk so its rules hold across
 * processes; `world.py` is the outside world (buttons, faults). The real
 * helper runs against it with real pipes: pass `gpio.env` to
 * `LinuxGpioBoard.open({ env })`.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

// EMULATED_GPIO_DIR: for bundled callers (the bench), whose import.meta.url is elsewhere.
const here = process.env.EMULATED_GPIO_DIR ?? fileURLToPath(new URL('.', import.meta.url));

export type Fixture = 'pi5' | 'pi4-mainline';

export interface LineLevel {
  readonly level: 0 | 1;
  readonly held: boolean;
  readonly consumer: string | null;
  readonly direction: 'input' | 'output' | null;
  /** Debounce period the holder asked the kernel for (v2 uAPI), ms. */
  readonly debounceMs: number | null;
}

export class EmulatedGpio {
  readonly dir: string;
  /** Environment for the helper: the fake `gpiod` on PYTHONPATH, the emulated /dev. */
  readonly env: Record<string, string>;
  readonly #world: ChildProcessByStdio<Writable, Readable, null>;
  readonly #waiters = new Map<number, (answer: Record<string, unknown>) => void>();
  #id = 0;

  private constructor(dir: string, api: 1 | 2, world: ChildProcessByStdio<Writable, Readable, null>) {
    this.dir = dir;
    this.#world = world;
    this.env = {
      PYTHONPATH: join(here, 'pythonpath'),
      FAKE_GPIO_DIR: dir,
      FAKE_GPIOD_API: String(api),
      BOARDCAST_GPIO_DEV_DIR: join(dir, 'dev'),
      // As on a Pi under systemd: Python's stdout into a pipe is block-buffered
      // unless the helper itself avoids that. (Empty = unset for Python.)
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

  /** Set up a chip table (real Raspberry Pi device-tree line names) and start the outside world. */
  static async start(fixture: Fixture, api: 1 | 2, python = 'python3'): Promise<EmulatedGpio> {
    const dir = mkdtempSync(join(tmpdir(), 'gpio-'));
    const world = spawn(python, ['-u', join(here, 'world.py'), dir, join(here, `${fixture}.json`)], {
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

  /** Make the next write to the line fail with `errno` (default EIO). */
  async fault(chip: string, offset: number, errno = 5): Promise<void> {
    await this.#send('fault', chip, offset, { errno });
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
