import { BoardcastError, Emitter } from '@boardcast/core';
import {
  type Board,
  type BoardCapabilities,
  type BoardEvents,
  type BoardStatus,
  DIGITAL_MODES,
  edgeMatches,
  isInputMode,
  isLevel,
  type Level,
  type Pin,
  type PinEdgeEvent,
  type PinMode,
  pinKey,
  requireMode,
  requirePin,
  unsupported,
  type WatchOptions,
} from './board.js';
import { Debouncer } from './debounce.js';
import {
  type Bias,
  type CommandRunner,
  gpiod,
  type Line,
  nodeCommandRunner,
  type RunningCommand,
} from './gpiod-cli.js';

export interface LinuxGpioBoardOptions {
  /** Default `gpio`. */
  readonly id?: string;
  /** Lines the app uses: a number `n` means the line named `GPIOn` (Raspberry Pi naming), a string is a line name. */
  readonly pins: readonly Pin[];
  /** Consumer label shown by `gpioinfo` (default `boardcast`). */
  readonly consumer?: string;
  /** libgpiod tools major version; detected from `gpioset --version` when omitted. */
  readonly toolsVersion?: 1 | 2;
  /** How long a freshly started `gpioset` must stay up to count as applied (default 50 ms). */
  readonly settleMs?: number;
  /** The OS boundary; replace it to test without hardware. */
  readonly runner?: CommandRunner;
}

interface LineState {
  readonly pin: Pin;
  readonly line: Line;
  mode: PinMode | undefined;
  level: Level | undefined;
  holder: RunningCommand | undefined;
  monitor: RunningCommand | undefined;
}

interface Watcher {
  readonly pin: Pin;
  readonly edge: NonNullable<WatchOptions['edge']>;
  readonly debouncer: Debouncer;
}

function biasOf(mode: PinMode | undefined): Bias {
  return mode === 'input_pullup' ? 'pull-up' : mode === 'input_pulldown' ? 'pull-down' : undefined;
}

/**
 * Local pins on a Linux board (a Raspberry Pi running Node itself) through
 * the GPIO character device, via libgpiod's command-line tools. Lines are
 * found by name, so the same code runs whether the header is gpiochip0 or
 * gpiochip4 (Pi 5, older kernels). Output levels are held by a `gpioset`
 * process per line (the kernel releases a line when its holder exits);
 * inputs are read with `gpioget` and watched with one `gpiomon` per line,
 * debounced here per watch.
 */
export class LinuxGpioBoard extends Emitter<BoardEvents> implements Board {
  readonly id: string;
  readonly kind = 'linux-gpio';
  readonly capabilities: BoardCapabilities;
  readonly toolsVersion: 1 | 2;
  readonly #runner: CommandRunner;
  readonly #consumer: string;
  readonly #settleMs: number;
  readonly #lines = new Map<string, LineState>();
  readonly #watchers = new Set<Watcher>();
  #status: BoardStatus = 'online';

  private constructor(options: LinuxGpioBoardOptions, version: 1 | 2, lines: LineState[], runner: CommandRunner) {
    super();
    this.id = options.id ?? 'gpio';
    this.toolsVersion = version;
    this.#runner = runner;
    this.#consumer = options.consumer ?? 'boardcast';
    this.#settleMs = options.settleMs ?? 50;
    for (const state of lines) this.#lines.set(pinKey(state.pin), state);
    this.capabilities = {
      pins: lines.map((l) => ({ pin: l.pin, modes: DIGITAL_MODES, name: `${l.line.chip}:${l.line.offset}` })),
      sensors: [],
    };
  }

  /** Detect the tools, find every line by name, and return a ready board. */
  static async open(options: LinuxGpioBoardOptions): Promise<LinuxGpioBoard> {
    const runner = options.runner ?? nodeCommandRunner;
    const id = options.id ?? 'gpio';
    let version = options.toolsVersion;
    if (version === undefined) {
      const out = await runner.run('gpioset', ['--version']);
      version = gpiod.parseVersion(out.stdout + out.stderr);
      if (out.code !== 0 || version === undefined) {
        throw new BoardcastError(
          'unsupported',
          `board "${id}": libgpiod tools not found or not understood (install the "gpiod" package): ${out.stderr.trim() || out.stdout.trim()}`,
        );
      }
    }
    const lines: LineState[] = [];
    for (const pin of options.pins) {
      const name = typeof pin === 'number' ? `GPIO${pin}` : pin;
      const [command, args] = gpiod.findArgs(version, name);
      const out = await runner.run(command, args);
      const line = out.code === 0 ? gpiod.parseFind(out.stdout) : undefined;
      if (!line) throw unsupported(id, pin, `no GPIO line named "${name}" (${command} ${args.join(' ')})`);
      lines.push({ pin, line, mode: undefined, level: undefined, holder: undefined, monitor: undefined });
    }
    return new LinuxGpioBoard(options, version, lines, runner);
  }

  get status(): BoardStatus {
    return this.#status;
  }

  #state(pin: Pin): LineState {
    if (this.#status === 'offline') throw new BoardcastError('closed', `board "${this.id}" is closed`);
    requirePin(this.id, this.capabilities, pin);
    return this.#lines.get(pinKey(pin))!;
  }

  async pinMode(pin: Pin, mode: PinMode): Promise<void> {
    const state = this.#state(pin);
    requireMode(this.id, this.capabilities, pin, mode);
    if (state.mode === mode) return;
    this.#stopMonitor(state);
    await this.#stopHolder(state);
    state.mode = mode;
    if (mode === 'output') {
      await this.#hold(state, state.level ?? 0);
      return;
    }
    state.level = await this.#get(state);
    if (this.#hasWatchers(pin)) this.#startMonitor(state);
  }

  async digitalWrite(pin: Pin, value: Level): Promise<Level> {
    const state = this.#state(pin);
    if (state.mode !== 'output') throw unsupported(this.id, pin, 'is not an output (call pinMode first)');
    if (!isLevel(value)) throw new BoardcastError('invalid_payload', 'digitalWrite value must be 0 or 1');
    if (state.level === value && state.holder) return value;
    await this.#stopHolder(state);
    await this.#hold(state, value);
    return value;
  }

  async digitalRead(pin: Pin): Promise<Level> {
    const state = this.#state(pin);
    if (state.mode === undefined) throw unsupported(this.id, pin, 'is not configured (call pinMode first)');
    // A line held by our gpioset or gpiomon is busy for gpioget: its level is
    // the one the holder applied or the monitor last reported.
    if (state.mode === 'output' || state.monitor) return state.level ?? 0;
    state.level = await this.#get(state);
    return state.level;
  }

  async analogRead(pin: Pin): Promise<number> {
    this.#state(pin);
    throw unsupported(this.id, pin, 'the GPIO character device has no analog inputs');
  }

  async readSensor(name: string): Promise<number> {
    throw unsupported(this.id, undefined, `no sensor "${name}"`);
  }

  watch(pin: Pin, options: WatchOptions, listener: (edge: PinEdgeEvent) => void): () => void {
    const state = this.#state(pin);
    const edge = options.edge ?? 'both';
    const watcher: Watcher = {
      pin,
      edge,
      debouncer: new Debouncer(options.debounceMs ?? 0, state.level, (value) => {
        if (edgeMatches(edge, value)) listener({ pin, value, at: Date.now() });
      }),
    };
    this.#watchers.add(watcher);
    if (isInputMode(state.mode) && !state.monitor) this.#startMonitor(state);
    return () => {
      watcher.debouncer.cancel();
      this.#watchers.delete(watcher);
      if (!this.#hasWatchers(pin)) this.#stopMonitor(state);
    };
  }

  #hasWatchers(pin: Pin): boolean {
    for (const w of this.#watchers) if (pinKey(w.pin) === pinKey(pin)) return true;
    return false;
  }

  async #get(state: LineState): Promise<Level> {
    const out = await this.#runner.run(
      'gpioget',
      gpiod.getArgs(this.toolsVersion, state.line, biasOf(state.mode), this.#consumer),
    );
    const level = out.code === 0 ? gpiod.parseGet(out.stdout) : undefined;
    if (level === undefined) {
      throw new BoardcastError(
        'handler_failed',
        `board "${this.id}" pin ${pinKey(state.pin)}: gpioget failed: ${out.stderr.trim()}`,
      );
    }
    return level;
  }

  #hold(state: LineState, value: Level): Promise<void> {
    const holder = this.#runner.spawn('gpioset', gpiod.setArgs(this.toolsVersion, state.line, value, this.#consumer));
    state.holder = holder;
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        state.level = value;
        resolve();
      }, this.#settleMs);
      holder.onExit((code, stderr) => {
        if (state.holder === holder) state.holder = undefined;
        if (settled) {
          if (code !== 0 && code !== null && this.#status === 'online') {
            this.emit(
              'error',
              new BoardcastError(
                'handler_failed',
                `gpioset for pin ${pinKey(state.pin)} exited ${code}: ${stderr.trim()}`,
              ),
            );
          }
          return;
        }
        clearTimeout(timer);
        settled = true;
        reject(
          new BoardcastError(
            'handler_failed',
            `board "${this.id}" pin ${pinKey(state.pin)}: gpioset failed: ${stderr.trim() || `exit ${code}`}`,
          ),
        );
      });
    });
  }

  async #stopHolder(state: LineState): Promise<void> {
    const holder = state.holder;
    if (!holder) return;
    state.holder = undefined;
    await new Promise<void>((resolve) => {
      holder.onExit(() => resolve());
      holder.kill();
    });
  }

  #startMonitor(state: LineState): void {
    const monitor = this.#runner.spawn(
      'gpiomon',
      gpiod.monArgs(this.toolsVersion, state.line, biasOf(state.mode), this.#consumer),
    );
    state.monitor = monitor;
    monitor.onLine((line) => {
      const event = gpiod.parseMon(line);
      if (!event || event.offset !== state.line.offset) return;
      state.level = event.value;
      for (const w of this.#watchers) if (pinKey(w.pin) === pinKey(state.pin)) w.debouncer.input(event.value);
    });
    monitor.onExit((code, stderr) => {
      if (state.monitor !== monitor) return;
      state.monitor = undefined;
      this.emit(
        'error',
        new BoardcastError('handler_failed', `gpiomon for pin ${pinKey(state.pin)} exited ${code}: ${stderr.trim()}`),
      );
    });
  }

  #stopMonitor(state: LineState): void {
    const monitor = state.monitor;
    state.monitor = undefined;
    monitor?.kill();
  }

  /** Release every line (kills the gpioset/gpiomon children). */
  async close(): Promise<void> {
    if (this.#status === 'offline') return;
    this.#status = 'offline';
    for (const w of this.#watchers) w.debouncer.cancel();
    this.#watchers.clear();
    for (const state of this.#lines.values()) {
      this.#stopMonitor(state);
      await this.#stopHolder(state);
    }
    this.emit('status', 'offline');
    this.removeAllListeners();
  }
}
