import { BoardcastError, type ContractSpec, Emitter, type Hub } from '@boardcast/core';
import { logSafe } from '@boardcast/core/server';
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
  type OperationOptions,
  type Pin,
  type PinEdgeEvent,
  type PinMode,
  type PinModeOptions,
  pinKey,
  requireMode,
  requirePin,
  unsupported,
  type WatchOptions,
} from './board.js';
import { type BoardChannel, type BoardChannelArgs, type RegistrationSlot, registerOn } from './board-channel.js';
import { Debouncer } from './debounce.js';
import { defaultHelperPath, GpioHelperProcess, type HelperMessage } from './gpio-helper-process.js';

export interface LinuxGpioBoardOptions {
  /** Default `gpio`. */
  readonly id?: string;
  /**
   * Lines the app uses. A number is a BCM GPIO number: the line at that
   * offset of the Raspberry Pi's GPIO chip, found by its label
   * (`pinctrl-rp1` on a Pi 5, `pinctrl-bcm2711` on a Pi 4,
   * `pinctrl-bcm2835` before), whatever the line is named. A string is a line
   * name (`"GPIO17"`, `"ID_SDA"`, any name `gpioinfo` shows). On a board
   * without a Raspberry Pi chip, number n means the line named `GPIOn`.
   */
  readonly pins: readonly Pin[];
  /** Consumer label the kernel shows for our lines (`gpioinfo`), at most 31 characters. Default `boardcast`. */
  readonly consumer?: string;
  /** Chip (label, name `gpiochip4`, or path) whose offsets numbers address; default: the Raspberry Pi chip by label. */
  readonly chip?: string;
  /** Python interpreter that runs the helper. Default `python3`. */
  readonly python?: string;
  /** The helper script. Default: `gpio-helper/boardcast_gpio_helper.py` shipped in this package. */
  readonly helperPath?: string;
  /** Extra environment for the helper (merged over `process.env`). */
  readonly env?: Readonly<Record<string, string>>;
  /** How long one helper request may take before it fails with `timeout`, ms. Default 5000 (open: 3 × that). */
  readonly timeoutMs?: number;
  /**
   * Supervision of the helper. When it dies (killed, out of memory, a
   * Python error) the board goes `offline`, starts a new helper after a
   * backoff, requests the same lines again, puts every output back to its
   * last confirmed level and every watch back, then goes `online`. More than
   * `maxRestarts` restarts within `windowMs` and it gives up: an `error`
   * event with `board_offline` naming the last failure, and it stays
   * offline until closed. `false`: never restart. Defaults below.
   */
  readonly restart?: GpioRestartOptions | false;
}

/** How LinuxGpioBoard restarts a helper that died. */
export interface GpioRestartOptions {
  /** Restarts allowed within `windowMs` before giving up. Default 5. */
  readonly maxRestarts?: number;
  /** The window `maxRestarts` counts in, ms. Default 60000. */
  readonly windowMs?: number;
  /** Delay before the first restart, doubled for each restart still in the window, ms. Default 100. */
  readonly initialDelayMs?: number;
  /** Longest delay between restarts, ms. Default 5000. */
  readonly maxDelayMs?: number;
}

/** Where a pin landed: the chip (name and label) and the line offset and name. */
export interface GpioLineInfo {
  readonly pin: Pin;
  readonly chip: string;
  readonly label: string;
  readonly offset: number;
  readonly name: string;
}

interface LineState {
  readonly index: number;
  readonly info: GpioLineInfo;
  mode: PinMode | undefined;
  /** Debounce the helper/kernel applies for this line's watchers (ms), or undefined when nothing watches. */
  lineDebounceMs: number | undefined;
  /** An output's last confirmed level (restored after a helper restart). */
  level: Level | undefined;
  /** An output's release policy (`PinModeOptions.release`). */
  release: Level | 'keep' | undefined;
}

interface Watcher {
  readonly pin: Pin;
  readonly edge: NonNullable<WatchOptions['edge']>;
  readonly ms: number;
  readonly listener: (edge: PinEdgeEvent) => void;
  debouncer: Debouncer;
}

/** Options checked once, defaults filled in. */
interface Settings {
  readonly id: string;
  readonly pins: readonly Pin[];
  readonly consumer: string;
  readonly chip: string | null;
  readonly python: string;
  readonly helperPath: string;
  readonly env: Readonly<Record<string, string>> | undefined;
  readonly timeoutMs: number;
  readonly restart: Required<GpioRestartOptions> | false;
}

/** Where the helper's unsolicited lines go: to the board, once it exists. */
interface HelperSink {
  event?: (message: HelperMessage) => void;
  error?: (error: BoardcastError) => void;
}

/** Kernel CLOCK_MONOTONIC ns → ms since the epoch, on this process's clock (libuv's hrtime is CLOCK_MONOTONIC). */
function kernelTimeToEpochMs(ns: string | undefined): number {
  const now = Date.now();
  if (ns === undefined || !/^\d+$/.test(ns)) return now;
  const age = Number(process.hrtime.bigint() - BigInt(ns)) / 1e6;
  // A realtime stamp (old v1 kernels) or another clock: not comparable, use arrival time.
  return age >= 0 && age < 60_000 ? now - age : now;
}

/** Validate the options before any process starts; every bad value is `invalid_payload`. */
function checkOptions(options: LinuxGpioBoardOptions): Settings {
  const id = options.id ?? 'gpio';
  const seen = new Set<string>();
  for (const pin of options.pins) {
    // The kernel reports line names in 32 bytes (31 and a NUL): a longer
    // name can never match, and a huge one would only time out in the helper.
    const ok =
      (typeof pin === 'number' && Number.isSafeInteger(pin) && pin >= 0) ||
      (typeof pin === 'string' && pin !== '' && Buffer.byteLength(pin) <= 31 && !/\p{Cc}/u.test(pin));
    if (!ok)
      throw new BoardcastError(
        'invalid_payload',
        `board "${id}": pin ${logSafe(typeof pin === 'string' ? JSON.stringify(pin) : String(pin))} is not a GPIO number or a line name (1–31 bytes)`,
      );
    if (seen.has(pinKey(pin)))
      throw new BoardcastError('invalid_payload', `board "${id}": pin ${pinKey(pin)} listed twice`);
    seen.add(pinKey(pin));
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  // 0, NaN or a negative value would time every request out at once while
  // the helper still carries it out: a write reported failed that happened.
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 1 && timeoutMs <= 2 ** 31 / 3)) {
    throw new BoardcastError(
      'invalid_payload',
      `board "${id}": timeoutMs must be a number of ms from 1 to ${Math.floor(2 ** 31 / 3)}, got ${logSafe(String(timeoutMs))}`,
    );
  }
  const consumer = options.consumer ?? 'boardcast';
  // The kernel keeps 31 bytes of it and cuts the rest silently; `gpioinfo`
  // and our own `busy` errors would then name a consumer nobody configured.
  if (typeof consumer !== 'string' || Buffer.byteLength(consumer) > 31 || /[\p{Cc}]/u.test(consumer)) {
    throw new BoardcastError(
      'invalid_payload',
      `board "${id}": consumer must be at most 31 bytes of printable text, got ${logSafe(JSON.stringify(consumer))}`,
    );
  }
  return {
    id,
    pins: [...options.pins],
    consumer,
    chip: options.chip ?? null,
    python: options.python ?? 'python3',
    helperPath: options.helperPath ?? defaultHelperPath(),
    env: options.env,
    timeoutMs,
    restart: checkRestart(id, options.restart),
  };
}

function checkRestart(
  id: string,
  restart: GpioRestartOptions | false | undefined,
): Required<GpioRestartOptions> | false {
  if (restart === false) return false;
  const settings = {
    maxRestarts: restart?.maxRestarts ?? 5,
    windowMs: restart?.windowMs ?? 60_000,
    initialDelayMs: restart?.initialDelayMs ?? 100,
    maxDelayMs: restart?.maxDelayMs ?? 5000,
  };
  for (const [name, value] of Object.entries(settings)) {
    if (!(Number.isFinite(value) && value >= 0 && value <= 2 ** 31 - 1)) {
      throw new BoardcastError(
        'invalid_payload',
        `board "${id}": restart.${name} must be a number >= 0, got ${logSafe(String(value))}`,
      );
    }
  }
  return settings;
}

/** Start a helper whose unsolicited lines reach `sink.board` once it is set. */
function startHelper(settings: Settings, sink: HelperSink): GpioHelperProcess {
  return new GpioHelperProcess({
    boardId: settings.id,
    python: settings.python,
    helperPath: settings.helperPath,
    env: settings.env,
    onEvent: (message) => sink.event?.(message),
    onError: (error) => sink.error?.(error),
  });
}

/**
 * Ask the helper for every pin's line. Rejects with the helper's typed error,
 * `timeout`, the exit reason, or `handler_failed` for an answer that does not
 * list one line per pin (pin n would drive another line); the helper is
 * killed when it rejects.
 */
async function openLines(helper: GpioHelperProcess, settings: Settings): Promise<HelperMessage> {
  try {
    const result = await Promise.race([
      helper.request(
        'open',
        { pins: settings.pins, consumer: settings.consumer, chip: settings.chip },
        settings.timeoutMs * 3,
      ),
      helper.exited.then((why) => Promise.reject(why)),
    ]);
    const answer = (result.value ?? {}) as HelperMessage;
    const lines = answer.lines;
    if (
      !Array.isArray(lines) ||
      lines.length !== settings.pins.length ||
      !lines.every((l) => Number.isInteger((l as { offset?: unknown } | null)?.offset))
    ) {
      throw new BoardcastError(
        'handler_failed',
        `board "${settings.id}": the GPIO helper's open answer does not list one line per pin (${settings.pins.length})`,
      );
    }
    return answer;
  } catch (error) {
    helper.kill();
    throw error;
  }
}

function lineInfos(settings: Settings, opened: HelperMessage): GpioLineInfo[] {
  const raw = Array.isArray(opened.lines) ? (opened.lines as Array<Record<string, unknown>>) : [];
  return settings.pins.map((pin, index) => ({
    pin,
    chip: String(raw[index]?.chip ?? ''),
    label: String(raw[index]?.label ?? ''),
    offset: Number(raw[index]?.offset ?? -1),
    name: String(raw[index]?.name ?? ''),
  }));
}

/**
 * Local pins on a Linux board (a Raspberry Pi running Node itself) through
 * the GPIO character device. One long-lived helper process per board
 * (`gpio-helper/boardcast_gpio_helper.py` on the distribution's
 * `python3-libgpiod`, v1 or v2 API) holds every line for the board's whole
 * lifetime and speaks newline-delimited JSON over its standard input/output:
 * a write resolves once the kernel accepted it and the helper read it back,
 * edges arrive with the kernel's timestamp as the kernel reports them
 * (debounced in the kernel where the v2 uAPI can, in the helper otherwise),
 * and a reported level is never stale: after a batch of edges and when a
 * debounce settles the helper reads the line itself (the kernel's edge queue
 * can overflow: `overflow` event).
 *
 * End state: on `close()`, and when the server ends (SIGTERM/SIGINT, a
 * crash: the helper sees its parent die), each output is driven to its
 * release level (`PinModeOptions.release`, default its initial level) and
 * released. After SIGKILL of the helper, or power loss, nothing can act: a
 * Raspberry Pi kernel keeps a released output at its last level, and at
 * power-up every pin is an input again.
 *
 * Supervision: a helper that dies is restarted (`restart` option); the board
 * is `offline` meanwhile and every operation rejects `board_offline`.
 *
 * Errors: `unsupported` (no such line: the message lists the chips and their
 * labels), `busy` (the line is held by another consumer, named in the message
 * and `details.consumer`), `forbidden` (no permission on /dev/gpiochip*: the
 * `gpio` group), `handler_failed` (the kernel refused a write), `timeout`,
 * `board_offline` (the helper died), `closed`.
 */
export class LinuxGpioBoard extends Emitter<BoardEvents> implements Board {
  readonly id: string;
  readonly kind = 'linux-gpio';
  readonly capabilities: BoardCapabilities;
  /** libgpiod Python API major version the helper found (1: bookworm, 2: trixie). */
  readonly api: 1 | 2;
  /** The python3-libgpiod version the helper reports. */
  readonly libgpiodVersion: string;
  /** Where every pin landed (chip, label, offset, line name). */
  readonly lines: readonly GpioLineInfo[];
  readonly #settings: Settings;
  readonly #sink: HelperSink;
  readonly #states = new Map<string, LineState>();
  readonly #watchers = new Set<Watcher>();
  #helper: GpioHelperProcess;
  #status: BoardStatus = 'online';
  #closing: Promise<void> | undefined;
  #edgeAt: number | undefined;
  /** When each restart in the current window began (ms since the epoch). */
  #restarts: number[] = [];
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #restarting: Promise<void> | undefined;
  readonly #registration: RegistrationSlot;

  private constructor(settings: Settings, helper: GpioHelperProcess, opened: HelperMessage, sink: HelperSink) {
    super();
    this.#settings = settings;
    this.#sink = sink;
    sink.event = (message) => this.#onHelperEvent(message);
    sink.error = (error) => this.emit('error', error);
    this.id = settings.id;
    this.#helper = helper;
    this.api = opened.api === 1 ? 1 : 2;
    this.libgpiodVersion = String(opened.version ?? '');
    this.lines = lineInfos(settings, opened);
    this.lines.forEach((info, index) => {
      this.#states.set(pinKey(info.pin), {
        index,
        info,
        mode: undefined,
        lineDebounceMs: undefined,
        level: undefined,
        release: undefined,
      });
    });
    this.capabilities = {
      pins: this.lines.map((l) => ({ pin: l.pin, modes: DIGITAL_MODES, name: l.name || `${l.chip}:${l.offset}` })),
      sensors: [],
    };
    const board = this;
    this.#registration = {
      current: undefined,
      get closed() {
        return board.#closing !== undefined;
      },
      // What the helper's hello names, so the directory shows what drives the lines.
      firmware: `boardcast-gpio-helper python3-libgpiod ${this.libgpiodVersion}`,
    };
    this.#supervise(helper);
  }

  /**
   * Make this board channel `channel` of `hub` in one call (a fleet: each
   * board its own channel): its directory entry (`kind`, `status`,
   * `lastSeen`, `firmware`, `capabilities`; `registerBoard`) and its status
   * as state of the channel (the `board` event `{ id, status }`, folded by
   * `boardReducers.board`; `bindBoardStatus`). The status goes `offline`
   * in both when the board closes, or its helper dies (back `online` when supervision restarts it). Bind its LEDs, inputs and
   * sensors to the returned `channel`. Options: `firmware` (default
   * `boardcast-gpio-helper python3-libgpiod <libgpiodVersion>`), `name`, `kind` (default `linux-gpio`), `event` (the status
   * event: default `board`; required when the contract has no `board` event
   * of that shape; `false`: directory only).
   *
   * Throws `closed` (the board is closed), `busy` (already registered:
   * `unregister()` first), `invalid_payload` (not a channel id, core's
   * `CHANNEL_ID`) or `too_many_channels` (the hub's `maxChannels`).
   */
  register<C extends ContractSpec>(hub: Hub<C>, channel: string, ...options: BoardChannelArgs<C>): BoardChannel<C> {
    return registerOn(this, this.#registration, hub, channel, options[0]);
  }

  /**
   * Start the helper, find every pin's line and return a ready board. Rejects
   * with `invalid_payload` (bad options, two pins on one line), `unsupported`
   * (python3 or python3-libgpiod missing, no such line), `busy` (a line
   * already held, naming its consumer), `forbidden` or `timeout`; the helper
   * is gone again when it rejects.
   */
  static async open(options: LinuxGpioBoardOptions): Promise<LinuxGpioBoard> {
    const settings = checkOptions(options);
    const sink: HelperSink = {};
    const helper = startHelper(settings, sink);
    const opened = await openLines(helper, settings);
    return new LinuxGpioBoard(settings, helper, opened, sink);
  }

  /** Process id of the current helper (a new one after a restart). */
  get helperPid(): number | undefined {
    return this.#helper.pid;
  }

  get status(): BoardStatus {
    return this.#status;
  }

  #state(pin: Pin): LineState {
    if (this.#closing) throw new BoardcastError('closed', `board "${this.id}" is closed`);
    requirePin(this.id, this.capabilities, pin);
    return this.#states.get(pinKey(pin))!;
  }

  #request(op: string, body: Record<string, unknown>, options?: OperationOptions): Promise<HelperMessage> {
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    if (options?.deadline !== undefined && performance.now() > options.deadline) {
      return Promise.reject(new BoardcastError('timeout', `board "${this.id}": ${op} missed its deadline`));
    }
    if (this.#status === 'offline') {
      return Promise.reject(new BoardcastError('board_offline', `board "${this.id}": the GPIO helper is not running`));
    }
    return this.#helper.request(op, body, this.#settings.timeoutMs);
  }

  async pinMode(pin: Pin, mode: PinMode, options: PinModeOptions = {}): Promise<void> {
    const state = this.#state(pin);
    requireMode(this.id, this.capabilities, pin, mode);
    if (options.initial !== undefined && !isLevel(options.initial)) {
      throw new BoardcastError('invalid_payload', 'pinMode initial must be 0 or 1');
    }
    if (options.release !== undefined && !isLevel(options.release) && options.release !== 'keep') {
      throw new BoardcastError('invalid_payload', 'pinMode release must be 0, 1 or "keep"');
    }
    if (state.mode === mode) return;
    const initial = options.initial ?? 0;
    const release = mode === 'output' ? (options.release ?? initial) : undefined;
    await this.#request('mode', { pin: state.info.pin, mode, initial, release: release ?? 'keep' }, options);
    state.mode = mode;
    state.level = mode === 'output' ? initial : undefined;
    state.release = release;
    state.lineDebounceMs = undefined;
    if (isInputMode(mode)) await this.#syncWatch(state);
  }

  async digitalWrite(pin: Pin, value: Level, options?: OperationOptions): Promise<Level> {
    const state = this.#state(pin);
    if (state.mode !== 'output') throw unsupported(this.id, pin, 'is not an output (call pinMode first)');
    if (!isLevel(value)) throw new BoardcastError('invalid_payload', 'digitalWrite value must be 0 or 1');
    const answer = await this.#request('write', { pin: state.info.pin, value }, options);
    const level = this.#level(answer, 'write');
    state.level = level;
    return level;
  }

  async digitalRead(pin: Pin, options?: OperationOptions): Promise<Level> {
    const state = this.#state(pin);
    if (state.mode === undefined) throw unsupported(this.id, pin, 'is not configured (call pinMode first)');
    // Always the kernel's word, never a cached level.
    const answer = await this.#request('read', { pin: state.info.pin }, options);
    return this.#level(answer, 'read');
  }

  /** The level in a helper's answer; anything else is the helper's fault, never read as 0. */
  #level(answer: HelperMessage, op: string): Level {
    if (isLevel(answer.value)) return answer.value;
    throw new BoardcastError(
      'handler_failed',
      `board "${this.id}": the GPIO helper answered ${op} without a level (${logSafe(JSON.stringify(answer.value))})`,
    );
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
    const ms = Math.max(0, options.debounceMs ?? 0);
    const watcher: Watcher = {
      pin,
      edge: options.edge ?? 'both',
      ms,
      listener,
      debouncer: new Debouncer(0, undefined, () => {}),
    };
    this.#watchers.add(watcher);
    this.#rebuild(state, undefined);
    if (isInputMode(state.mode)) this.#syncWatch(state).catch((error) => this.emit('error', error));
    return () => {
      if (!this.#watchers.delete(watcher)) return;
      watcher.debouncer.cancel();
      if (this.#closing || this.#status === 'offline') return;
      if (isInputMode(state.mode)) this.#syncWatch(state).catch((error) => this.emit('error', error));
    };
  }

  #watchersOf(state: LineState): Watcher[] {
    return [...this.#watchers].filter((w) => pinKey(w.pin) === pinKey(state.info.pin));
  }

  /**
   * The line is debounced once, in the kernel or helper, with the shortest
   * period any watcher asked for; each watcher debounces the rest of its own
   * period here, so two watches never share a timer.
   */
  async #syncWatch(state: LineState): Promise<void> {
    const watchers = this.#watchersOf(state);
    const wanted = watchers.length === 0 ? undefined : Math.min(...watchers.map((w) => w.ms));
    if (wanted === state.lineDebounceMs) return;
    state.lineDebounceMs = wanted;
    const answer =
      wanted === undefined
        ? await this.#request('unwatch', { pin: state.info.pin })
        : await this.#request('watch', { pin: state.info.pin, edge: 'both', debounceMs: wanted });
    if (wanted !== undefined) this.#rebuild(state, answer.value === 0 || answer.value === 1 ? answer.value : undefined);
  }

  #rebuild(state: LineState, level: Level | undefined): void {
    for (const w of this.#watchersOf(state)) {
      const stable = level ?? w.debouncer.stable;
      w.debouncer.cancel();
      const residual = Math.max(0, w.ms - (state.lineDebounceMs ?? 0));
      w.debouncer = new Debouncer(residual, stable, (value) => {
        const at = residual === 0 && this.#edgeAt !== undefined ? this.#edgeAt : Date.now();
        if (edgeMatches(w.edge, value)) w.listener({ pin: w.pin, value, at });
      });
    }
  }

  /** An unsolicited line from the helper (`edge`, `overflow`). */
  #onHelperEvent(message: HelperMessage): void {
    const pin = message.pin;
    const info = typeof pin === 'number' || typeof pin === 'string' ? this.#states.get(pinKey(pin))?.info : undefined;
    if (!info || this.#closing) return;
    if (message.type === 'overflow') {
      const dropped = typeof message.dropped === 'number' ? message.dropped : null;
      this.emit('overflow', { pin: info.pin, dropped });
      return;
    }
    if (message.type !== 'edge' || (message.value !== 0 && message.value !== 1)) return;
    const state = this.#states.get(pinKey(info.pin))!;
    this.#edgeAt = kernelTimeToEpochMs(typeof message.ns === 'string' ? message.ns : undefined);
    try {
      for (const w of this.#watchersOf(state)) w.debouncer.input(message.value);
    } finally {
      this.#edgeAt = undefined;
    }
  }

  // ----------------------------------------------------------- supervision

  /** Watch a helper that is serving the board: its exit takes the board offline and starts a restart. */
  #supervise(helper: GpioHelperProcess): void {
    helper.exited.then((why) => {
      // During close() the exit is expected; close() reports the status.
      if (helper !== this.#helper || this.#closing || this.#status === 'offline') return;
      this.#status = 'offline';
      for (const w of this.#watchers) w.debouncer.cancel();
      this.emit('error', why);
      this.emit('status', 'offline');
      this.#scheduleRestart(why);
    });
  }

  #scheduleRestart(why: unknown): void {
    const policy = this.#settings.restart;
    if (policy === false || this.#closing) return;
    const now = Date.now();
    this.#restarts = this.#restarts.filter((at) => now - at < policy.windowMs);
    if (this.#restarts.length >= policy.maxRestarts) {
      const last = why instanceof Error ? why.message : String(why);
      this.emit(
        'error',
        new BoardcastError(
          'board_offline',
          `board "${this.id}": the GPIO helper failed ${this.#restarts.length + 1} times within ${policy.windowMs} ms; not restarting it (close and open the board to try again). Last failure: ${last}`,
          { cause: why, details: { board: this.id, restarts: this.#restarts.length } },
        ),
      );
      return;
    }
    const delay = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** this.#restarts.length);
    this.#restarts.push(now);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.#restarting = this.#restart().finally(() => {
        this.#restarting = undefined;
      });
    }, delay);
  }

  /** A new helper: the same lines, outputs at their last confirmed level, watches back; then `online`. */
  async #restart(): Promise<void> {
    const helper = startHelper(this.#settings, this.#sink);
    try {
      const opened = await openLines(helper, this.#settings);
      const again = lineInfos(this.#settings, opened);
      const moved = again.find((l, i) => l.chip !== this.lines[i]!.chip || l.offset !== this.lines[i]!.offset);
      if (moved) {
        throw new BoardcastError(
          'handler_failed',
          `board "${this.id}": after a restart pin ${pinKey(moved.pin)} is ${moved.chip} line ${moved.offset}, not the line it was`,
        );
      }
      this.#helper = helper;
      await this.#restore(helper);
    } catch (error) {
      helper.kill();
      if (this.#closing) return;
      this.emit('error', error);
      this.#scheduleRestart(error);
      return;
    }
    if (this.#closing) {
      await helper.stop();
      return;
    }
    this.#status = 'online';
    this.#supervise(helper);
    this.emit('status', 'online');
  }

  async #restore(helper: GpioHelperProcess): Promise<void> {
    const timeoutMs = this.#settings.timeoutMs;
    for (const state of this.#states.values()) {
      if (state.mode === undefined) continue;
      const output = state.mode === 'output';
      await helper.request(
        'mode',
        {
          pin: state.info.pin,
          mode: state.mode,
          initial: output ? (state.level ?? 0) : 0,
          release: output ? (state.release ?? 'keep') : 'keep',
        },
        timeoutMs,
      );
      state.lineDebounceMs = undefined;
      const watchers = this.#watchersOf(state);
      if (!isInputMode(state.mode) || watchers.length === 0) continue;
      const wanted = Math.min(...watchers.map((w) => w.ms));
      const answer = await helper.request(
        'watch',
        { pin: state.info.pin, edge: 'both', debounceMs: wanted },
        timeoutMs,
      );
      state.lineDebounceMs = wanted;
      // Keep each watcher's last reported level, then feed the level now: a
      // change while the helper was down is reported (after its debounce).
      this.#rebuild(state, undefined);
      if (isLevel(answer.value)) for (const w of this.#watchersOf(state)) w.debouncer.input(answer.value);
    }
  }

  /**
   * Drive each output to its release level, release every line and end the
   * helper (SIGKILL if it has not exited 2 s after being asked).
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#restartTimer);
      for (const w of this.#watchers) w.debouncer.cancel();
      this.#watchers.clear();
      await this.#restarting;
      await this.#helper.stop();
      const wasOnline = this.#status === 'online';
      this.#status = 'offline';
      if (wasOnline) this.emit('status', 'offline');
      this.removeAllListeners();
    })();
    return this.#closing;
  }
}
