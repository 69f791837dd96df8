import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BoardcastError, Emitter, isErrorCode } from '@boardcast/core';
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
import { Debouncer } from './debounce.js';

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
}

interface Watcher {
  readonly pin: Pin;
  readonly edge: NonNullable<WatchOptions['edge']>;
  readonly ms: number;
  readonly listener: (edge: PinEdgeEvent) => void;
  debouncer: Debouncer;
}

interface Pending {
  readonly resolve: (value: HelperAnswer) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

type HelperAnswer = Record<string, unknown>;

/** What the helper's reader (set up before the board exists) hands to the board once it does. */
interface HelperHooks {
  edge?: (message: HelperAnswer) => void;
  exit?: (error: BoardcastError) => void;
  error?: (error: BoardcastError) => void;
}

/** Longest line accepted from the helper (its answers and events are < 1 KB). */
const MAX_HELPER_LINE = 1 << 20;

function defaultHelperPath(): string {
  // src/linux-gpio-board.ts, dist/index.js and dist/index.cjs all sit one level below the package root.
  const here = typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));
  return join(here, '..', 'gpio-helper', 'boardcast_gpio_helper.py');
}

/** Kernel CLOCK_MONOTONIC ns → ms since the epoch, on this process's clock (libuv's hrtime is CLOCK_MONOTONIC). */
function kernelTimeToEpochMs(ns: string | undefined): number {
  const now = Date.now();
  if (ns === undefined || !/^\d+$/.test(ns)) return now;
  const age = Number(process.hrtime.bigint() - BigInt(ns)) / 1e6;
  // A realtime stamp (old v1 kernels) or another clock: not comparable, use arrival time.
  return age >= 0 && age < 60_000 ? now - age : now;
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
 * and the helper ends with the board, with its parent (PR_SET_PDEATHSIG) or
 * when its standard input closes, so a crashed server never leaves a line
 * held.
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
  /** Process id of the helper. */
  readonly helperPid: number | undefined;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #timeoutMs: number;
  readonly #states = new Map<string, LineState>();
  readonly #watchers = new Set<Watcher>();
  readonly #pending: Map<number, Pending>;
  readonly #nextId: { value: number };
  #status: BoardStatus = 'online';
  #closing: Promise<void> | undefined;
  #edgeAt: number | undefined;

  private constructor(
    options: LinuxGpioBoardOptions,
    child: ChildProcessWithoutNullStreams,
    pending: Map<number, Pending>,
    opened: HelperAnswer,
    nextId: { value: number },
    hooks: HelperHooks,
  ) {
    super();
    hooks.edge = (message) => this.#onHelperEdge(message);
    hooks.exit = (error) => this.#onHelperExit(error);
    hooks.error = (error) => this.emit('error', error);
    this.id = options.id ?? 'gpio';
    this.#child = child;
    this.#pending = pending;
    this.#nextId = nextId;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.helperPid = child.pid;
    this.api = opened.api === 1 ? 1 : 2;
    this.libgpiodVersion = String(opened.version ?? '');
    const raw = Array.isArray(opened.lines) ? (opened.lines as Array<Record<string, unknown>>) : [];
    this.lines = options.pins.map((pin, index) => ({
      pin,
      chip: String(raw[index]?.chip ?? ''),
      label: String(raw[index]?.label ?? ''),
      offset: Number(raw[index]?.offset ?? -1),
      name: String(raw[index]?.name ?? ''),
    }));
    this.lines.forEach((info, index) => {
      this.#states.set(pinKey(info.pin), { index, info, mode: undefined, lineDebounceMs: undefined });
    });
    this.capabilities = {
      pins: this.lines.map((l) => ({ pin: l.pin, modes: DIGITAL_MODES, name: l.name || `${l.chip}:${l.offset}` })),
      sensors: [],
    };
  }

  /**
   * Start the helper, find every pin's line and return a ready board. Rejects
   * with `unsupported` (python3 or python3-libgpiod missing, no such line),
   * `busy` (a line already held, naming its consumer), `forbidden`,
   * `invalid_payload` (two pins on one line) or `timeout`; the helper is
   * gone again when it rejects.
   */
  static async open(options: LinuxGpioBoardOptions): Promise<LinuxGpioBoard> {
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
    const requestMs = options.timeoutMs ?? 5000;
    // 0, NaN or a negative value would time every request out at once while
    // the helper still carries it out: a write reported failed that happened.
    if (typeof requestMs !== 'number' || !(requestMs >= 1 && requestMs <= 2 ** 31 / 3)) {
      throw new BoardcastError(
        'invalid_payload',
        `board "${id}": timeoutMs must be a number of ms from 1 to ${Math.floor(2 ** 31 / 3)}, got ${logSafe(String(requestMs))}`,
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
    const python = options.python ?? 'python3';
    const child = spawn(python, ['-u', options.helperPath ?? defaultHelperPath()], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env, BOARDCAST_GPIO_PARENT: String(process.pid) },
    });
    const pending = new Map<number, Pending>();
    const nextId = { value: 1 };
    const hooks: HelperHooks = {};
    let stderr = '';
    let exited = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    child.stdin.on('error', () => undefined); // EPIPE after the helper died: reported by 'exit'
    const spawnFailed = new Promise<never>((_, reject) => {
      child.on('error', (error: NodeJS.ErrnoException) => {
        exited = true;
        const why =
          error.code === 'ENOENT' ? `${python} not found (install python3 and python3-libgpiod)` : error.message;
        reject(
          new BoardcastError('unsupported', `board "${id}": cannot start the GPIO helper: ${why}`, { cause: error }),
        );
      });
    });
    spawnFailed.catch(() => undefined);
    let buffer = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_HELPER_LINE && !buffer.includes('\n')) {
        // The helper's lines are short; anything else is not worth buffering.
        buffer = '';
        hooks.error?.(new BoardcastError('handler_failed', 'GPIO helper wrote an over-long line; dropped'));
      }
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        nl = buffer.indexOf('\n');
        let message: HelperAnswer;
        try {
          message = JSON.parse(line) as HelperAnswer;
        } catch {
          hooks.error?.(new BoardcastError('handler_failed', `GPIO helper wrote a non-JSON line: ${logSafe(line)}`));
          continue;
        }
        // `null`, a list, a number: JSON, but reading `.id` off them would
        // throw inside this stream callback and take the server down.
        if (message === null || typeof message !== 'object' || Array.isArray(message)) {
          hooks.error?.(
            new BoardcastError('handler_failed', `GPIO helper wrote a line that is not an object: ${logSafe(line)}`),
          );
          continue;
        }
        if (typeof message.id === 'number') {
          const waiter = pending.get(message.id);
          if (!waiter) continue;
          pending.delete(message.id);
          clearTimeout(waiter.timer);
          if (message.ok === true) waiter.resolve(message);
          else waiter.reject(helperError(id, message.error));
        } else if (message.event === 'edge') hooks.edge?.(message);
        else if (message.event === 'error') {
          hooks.error?.(new BoardcastError('handler_failed', `GPIO helper: ${logSafe(message.message)}`));
        }
      }
    });
    const exitedPromise = new Promise<never>((_, reject) => {
      child.on('exit', (code, signal) => {
        exited = true;
        const why = new BoardcastError(
          'board_offline',
          `board "${id}": the GPIO helper exited (${signal ?? `code ${code}`})${stderr.trim() ? `: ${stderr.trim().slice(-500)}` : ''}`,
        );
        for (const [key, waiter] of pending) {
          clearTimeout(waiter.timer);
          waiter.reject(why);
          pending.delete(key);
        }
        hooks.exit?.(why);
        reject(why);
      });
    });
    exitedPromise.catch(() => undefined);
    const timeoutMs = requestMs * 3;
    const opened = new Promise<HelperAnswer>((resolve, reject) => {
      const rid = nextId.value++;
      const timer = setTimeout(() => {
        pending.delete(rid);
        reject(new BoardcastError('timeout', `board "${id}": the GPIO helper did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(rid, { resolve, reject, timer });
      const request = {
        id: rid,
        op: 'open',
        pins: options.pins,
        consumer,
        chip: options.chip ?? null,
      };
      child.stdin.write(`${JSON.stringify(request)}\n`);
    });
    try {
      const answer = await Promise.race([opened, spawnFailed, exitedPromise]);
      // One line per pin, in order: without that, pin n would drive another line.
      const lines = answer.lines;
      if (
        !Array.isArray(lines) ||
        lines.length !== options.pins.length ||
        !lines.every((l) => Number.isInteger((l as { offset?: unknown } | null)?.offset))
      ) {
        throw new BoardcastError(
          'handler_failed',
          `board "${id}": the GPIO helper's open answer does not list one line per pin (${options.pins.length})`,
        );
      }
      return new LinuxGpioBoard(options, child, pending, answer, nextId, hooks);
    } catch (error) {
      if (!exited) {
        child.stdin.end();
        child.kill('SIGKILL');
      }
      throw error;
    }
  }

  get status(): BoardStatus {
    return this.#status;
  }

  #state(pin: Pin): LineState {
    if (this.#closing) throw new BoardcastError('closed', `board "${this.id}" is closed`);
    requirePin(this.id, this.capabilities, pin);
    return this.#states.get(pinKey(pin))!;
  }

  #request(op: string, body: Record<string, unknown>, options?: OperationOptions): Promise<HelperAnswer> {
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    if (options?.deadline !== undefined && performance.now() > options.deadline) {
      return Promise.reject(new BoardcastError('timeout', `board "${this.id}": ${op} missed its deadline`));
    }
    if (this.#status === 'offline') {
      return Promise.reject(new BoardcastError('board_offline', `board "${this.id}": the GPIO helper is not running`));
    }
    return new Promise((resolve, reject) => {
      const rid = this.#nextId.value++;
      const timer = setTimeout(() => {
        this.#pending.delete(rid);
        reject(
          new BoardcastError(
            'timeout',
            `board "${this.id}": the GPIO helper did not answer ${op} within ${this.#timeoutMs} ms`,
          ),
        );
      }, this.#timeoutMs);
      this.#pending.set(rid, { resolve, reject, timer });
      // Once written, the request reaches the kernel within microseconds; it
      // is not withdrawn, so a write that was sent is one that happened.
      this.#child.stdin.write(`${JSON.stringify({ id: rid, op, ...body })}\n`);
    });
  }

  async pinMode(pin: Pin, mode: PinMode, options: PinModeOptions = {}): Promise<void> {
    const state = this.#state(pin);
    requireMode(this.id, this.capabilities, pin, mode);
    if (options.initial !== undefined && !isLevel(options.initial)) {
      throw new BoardcastError('invalid_payload', 'pinMode initial must be 0 or 1');
    }
    if (state.mode === mode) return;
    await this.#request('mode', { line: state.index, mode, initial: options.initial ?? 0 }, options);
    state.mode = mode;
    state.lineDebounceMs = undefined;
    if (isInputMode(mode)) await this.#syncWatch(state);
  }

  async digitalWrite(pin: Pin, value: Level, options?: OperationOptions): Promise<Level> {
    const state = this.#state(pin);
    if (state.mode !== 'output') throw unsupported(this.id, pin, 'is not an output (call pinMode first)');
    if (!isLevel(value)) throw new BoardcastError('invalid_payload', 'digitalWrite value must be 0 or 1');
    const answer = await this.#request('write', { line: state.index, value }, options);
    return this.#level(answer, 'write');
  }

  async digitalRead(pin: Pin, options?: OperationOptions): Promise<Level> {
    const state = this.#state(pin);
    if (state.mode === undefined) throw unsupported(this.id, pin, 'is not configured (call pinMode first)');
    // Always the kernel's word, never a cached level.
    const answer = await this.#request('read', { line: state.index }, options);
    return this.#level(answer, 'read');
  }

  /** The level in a helper's answer; anything else is the helper's fault, never read as 0. */
  #level(answer: HelperAnswer, op: string): Level {
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
    const answer = await this.#request('watch', { line: state.index, debounceMs: wanted ?? null });
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

  /** An edge line from the helper. */
  #onHelperEdge(message: HelperAnswer): void {
    const index = Number(message.line);
    const info = this.lines[index];
    if (!info || (message.value !== 0 && message.value !== 1)) return;
    const state = this.#states.get(pinKey(info.pin))!;
    this.#edgeAt = kernelTimeToEpochMs(typeof message.ns === 'string' ? message.ns : undefined);
    try {
      for (const w of this.#watchersOf(state)) w.debouncer.input(message.value);
    } finally {
      this.#edgeAt = undefined;
    }
  }

  /** The helper exited. */
  #onHelperExit(error: BoardcastError): void {
    // During close() the exit is expected; close() reports the status.
    if (this.#status === 'offline' || this.#closing) return;
    this.#status = 'offline';
    for (const w of this.#watchers) w.debouncer.cancel();
    this.emit('error', error);
    this.emit('status', 'offline');
  }

  /** Release every line and end the helper (SIGKILL if it has not exited 2 s after being asked). */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const w of this.#watchers) w.debouncer.cancel();
      this.#watchers.clear();
      const child = this.#child;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        this.#request('close', {}).catch(() => undefined);
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      }
      const wasOnline = this.#status === 'online';
      this.#status = 'offline';
      if (wasOnline) this.emit('status', 'offline');
      this.removeAllListeners();
    })();
    return this.#closing;
  }
}

function helperError(boardId: string, raw: unknown): BoardcastError {
  const error = (raw ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
  const code = isErrorCode(error.code) ? error.code : 'handler_failed';
  const message = typeof error.message === 'string' ? error.message : 'GPIO helper error';
  return new BoardcastError(code, `board "${boardId}": ${message}`, { details: error.details });
}
