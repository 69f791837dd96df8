import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CommandOutput, type CommandRunner, LinuxGpioBoard, type RunningCommand } from '../src/index.js';

/**
 * The GPIO character device cannot exist here (no /dev/gpiochip*, no
 * modprobe gpio-sim), so this fake stands in for libgpiod's tools at the OS
 * boundary: it answers like gpioset/gpioget/gpioinfo/gpiofind/gpiomon of
 * the given major version would, and records every invocation.
 */
class FakeGpiod implements CommandRunner {
  readonly calls: string[] = [];
  readonly live = new Set<FakeProcess>();
  readonly levels = new Map<number, 0 | 1>();
  failSet = false;
  constructor(
    readonly version: 1 | 2,
    readonly names: Record<string, [string, number]>,
  ) {}

  async run(command: string, args: readonly string[]): Promise<CommandOutput> {
    this.calls.push([command, ...args].join(' '));
    const ok = (stdout: string): CommandOutput => ({ code: 0, stdout, stderr: '' });
    if (args[0] === '--version') return ok(`${command} (libgpiod) v${this.version === 1 ? '1.6.3' : '2.1.3'}\n`);
    const name = args[args.length - 1]!;
    if (command === 'gpiofind' || command === 'gpioinfo') {
      const found = this.names[name];
      if (!found) return { code: 1, stdout: '', stderr: `cannot find line '${name}'` };
      return ok(this.version === 1 ? `${found[0]} ${found[1]}\n` : `${found[0]} ${found[1]}\t"${name}"\tinput\n`);
    }
    if (command === 'gpioget') {
      const level = this.levels.get(Number(name)) ?? (args.includes('pull-up') ? 1 : 0);
      return ok(this.version === 1 ? `${level}\n` : `"${name}"=${level ? 'active' : 'inactive'}\n`);
    }
    return { code: 127, stdout: '', stderr: `${command}: not found` };
  }

  spawn(command: string, args: readonly string[]): RunningCommand {
    this.calls.push([command, ...args].join(' '));
    const proc = new FakeProcess(this, command, args);
    if (command === 'gpioset') {
      if (this.failSet) queueMicrotask(() => proc.exit(1, 'gpioset: unable to request lines: Device or resource busy'));
      else {
        const [offset, value] = args[args.length - 1]!.split('=');
        this.levels.set(Number(offset), Number(value) as 0 | 1);
      }
    }
    return proc;
  }

  monitors(): FakeProcess[] {
    return [...this.live].filter((p) => p.command === 'gpiomon');
  }

  /** An edge on a line, as gpiomon prints it with `--format "%e %o"`. */
  edge(offset: number, value: 0 | 1): void {
    this.levels.set(offset, value);
    const code = value === 1 ? '1' : this.version === 1 ? '0' : '2';
    for (const p of this.monitors()) if (p.args[p.args.length - 1] === String(offset)) p.print(`${code} ${offset}`);
  }
}

class FakeProcess implements RunningCommand {
  readonly #lines: Array<(line: string) => void> = [];
  readonly #exits: Array<(code: number | null, stderr: string) => void> = [];
  #done = false;
  constructor(
    readonly fake: FakeGpiod,
    readonly command: string,
    readonly args: readonly string[],
  ) {
    fake.live.add(this);
  }
  onLine(l: (line: string) => void) {
    this.#lines.push(l);
  }
  onExit(l: (code: number | null, stderr: string) => void) {
    this.#exits.push(l);
  }
  print(line: string) {
    for (const l of this.#lines) l(line);
  }
  exit(code: number | null, stderr = '') {
    if (this.#done) return;
    this.#done = true;
    this.fake.live.delete(this);
    for (const l of this.#exits) l(code, stderr);
  }
  kill() {
    queueMicrotask(() => this.exit(null));
  }
}

const NAMES: Record<string, [string, number]> = {
  GPIO17: ['gpiochip4', 17],
  GPIO27: ['gpiochip4', 27],
  LED: ['gpiochip4', 5],
};

afterEach(() => {
  vi.useRealTimers();
});

describe.each([1, 2] as const)('LinuxGpioBoard over libgpiod v%i tools (fake runner)', (version) => {
  it('finds lines by name, holds outputs with gpioset, reads inputs with gpioget', async () => {
    const fake = new FakeGpiod(version, NAMES);
    const board = await LinuxGpioBoard.open({ pins: [17, 'LED'], runner: fake, settleMs: 5 });
    expect(board.toolsVersion).toBe(version);
    expect(board.capabilities.pins.map((p) => p.name)).toEqual(['gpiochip4:17', 'gpiochip4:5']);
    expect(fake.calls).toContain(version === 1 ? 'gpiofind GPIO17' : 'gpioinfo --strict GPIO17');

    await board.pinMode('LED', 'output');
    expect(await board.digitalWrite('LED', 1)).toBe(1);
    const sets = fake.calls.filter((c) => c.startsWith('gpioset ') && !c.includes('--version'));
    expect(sets.at(-1)).toBe(
      version === 1 ? 'gpioset -m signal gpiochip4 5=1' : 'gpioset -c gpiochip4 -C boardcast 5=1',
    );
    // Exactly one holder per line: the previous gpioset was stopped.
    expect([...fake.live].filter((p) => p.command === 'gpioset')).toHaveLength(1);
    expect(await board.digitalRead('LED')).toBe(1);

    await board.pinMode(17, 'input_pullup');
    expect(fake.calls.at(-1)).toBe(
      version === 1 ? 'gpioget -B pull-up gpiochip4 17' : 'gpioget -c gpiochip4 -C boardcast -b pull-up 17',
    );
    expect(await board.digitalRead(17)).toBe(1);
    await board.close();
    expect(fake.live.size).toBe(0);
  });

  it('watches with gpiomon and debounces per watch', async () => {
    vi.useFakeTimers();
    const fake = new FakeGpiod(version, NAMES);
    const board = await LinuxGpioBoard.open({ pins: [17, 27], runner: fake });
    await board.pinMode(17, 'input_pullup');
    const fast: number[] = [];
    const slow: number[] = [];
    board.watch(17, { debounceMs: 5 }, (e) => fast.push(e.value));
    const stop = board.watch(17, { debounceMs: 50, edge: 'falling' }, (e) => slow.push(e.value));
    expect(fake.monitors()).toHaveLength(1);
    expect(fake.monitors()[0]!.args.join(' ')).toBe(
      version === 1
        ? '-B pull-up -F %e %o gpiochip4 17'
        : '-c gpiochip4 -C boardcast -b pull-up -e both --format %e %o 17',
    );
    fake.edge(17, 0);
    await vi.advanceTimersByTimeAsync(2);
    fake.edge(17, 1); // bounce
    await vi.advanceTimersByTimeAsync(2);
    fake.edge(17, 0);
    await vi.advanceTimersByTimeAsync(20);
    expect(fast).toEqual([0]);
    expect(slow).toEqual([]);
    await vi.advanceTimersByTimeAsync(40);
    expect(slow).toEqual([0]);
    expect(await board.digitalRead(17)).toBe(0); // from the monitor: the line is busy for gpioget
    stop();
    expect(fake.monitors()).toHaveLength(1);
    await board.close();
    expect(fake.monitors()).toHaveLength(0);
  });

  it('reports missing lines, failed writes and unsupported operations clearly', async () => {
    const fake = new FakeGpiod(version, NAMES);
    await expect(LinuxGpioBoard.open({ pins: ['NOPE'], runner: fake })).rejects.toMatchObject({
      code: 'unsupported',
      message: expect.stringContaining('no GPIO line named "NOPE"'),
    });
    const board = await LinuxGpioBoard.open({ id: 'pi', pins: ['LED'], runner: fake, settleMs: 5 });
    await expect(board.digitalWrite('LED', 1)).rejects.toMatchObject({
      code: 'unsupported',
      message: expect.stringContaining('board "pi" pin LED'),
    });
    await board.pinMode('LED', 'output');
    fake.failSet = true;
    await expect(board.digitalWrite('LED', 1)).rejects.toMatchObject({
      message: expect.stringContaining('Device or resource busy'),
    });
    expect(await board.digitalRead('LED')).toBe(0); // the confirmed level did not change
    await expect(board.analogRead('LED')).rejects.toMatchObject({ code: 'unsupported' });
    await expect(board.pinMode('LED', 'analog')).rejects.toMatchObject({ code: 'unsupported' });
    await expect(board.digitalRead(99)).rejects.toMatchObject({ message: expect.stringContaining('pin 99') });
    await board.close();
  });
});

it('explains a missing libgpiod install', async () => {
  const runner: CommandRunner = {
    run: async () => ({ code: null, stdout: '', stderr: 'spawn gpioset ENOENT' }),
    spawn: () => {
      throw new Error('not reached');
    },
  };
  await expect(LinuxGpioBoard.open({ pins: [17], runner })).rejects.toMatchObject({
    code: 'unsupported',
    message: expect.stringContaining('install the "gpiod" package'),
  });
});
