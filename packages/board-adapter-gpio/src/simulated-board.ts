import { BoardcastError, type ContractSpec, Emitter, type Hub } from '@boardcast/core';
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
  offline,
  type Pin,
  type PinCapability,
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

/** A simulated sensor: a constant, a function of elapsed ms, or a named waveform. */
export type Waveform =
  | number
  | ((elapsedMs: number) => number)
  | {
      readonly kind: 'sine' | 'square' | 'sawtooth';
      readonly min: number;
      readonly max: number;
      readonly periodMs: number;
    }
  | { readonly kind: 'noise'; readonly min: number; readonly max: number };

export interface SimulatedBoardOptions {
  /** Default `sim`. */
  readonly id?: string;
  /** Default: pins 0–39 with every digital mode, 32–39 also `analog` (an ESP32-like layout). */
  readonly pins?: readonly PinCapability[];
  /** Named sensors for `readSensor()`. */
  readonly sensors?: Readonly<Record<string, Waveform>>;
  /** Delay before every operation completes, like a slow bus or link (default 0). */
  readonly latencyMs?: number;
}

interface Watcher {
  readonly pin: Pin;
  readonly edge: NonNullable<WatchOptions['edge']>;
  readonly debouncer: Debouncer;
}

function defaultPins(): PinCapability[] {
  const pins: PinCapability[] = [];
  for (let n = 0; n < 40; n++) pins.push({ pin: n, modes: n >= 32 ? [...DIGITAL_MODES, 'analog'] : DIGITAL_MODES });
  return pins;
}

function sample(wave: Waveform, elapsed: number): number {
  if (typeof wave === 'number') return wave;
  if (typeof wave === 'function') return wave(elapsed);
  const span = wave.max - wave.min;
  if (wave.kind === 'noise') return wave.min + Math.random() * span;
  const phase = (elapsed % wave.periodMs) / wave.periodMs;
  if (wave.kind === 'square') return phase < 0.5 ? wave.max : wave.min;
  if (wave.kind === 'sawtooth') return wave.min + span * phase;
  return wave.min + span * (0.5 + 0.5 * Math.sin(2 * Math.PI * phase));
}

/**
 * A board in memory: the default when there is no hardware. Inputs are driven
 * with `press`/`release`/`setInput`, and the edges reach watchers through
 * the same per-watch debounce a real board's do. Faults (`goOffline`,
 * `failNextWrite`) let apps and tests walk the failure paths.
 */
export class SimulatedBoard extends Emitter<BoardEvents> implements Board {
  readonly id: string;
  readonly kind = 'simulated';
  readonly capabilities: BoardCapabilities;
  readonly #latencyMs: number;
  readonly #sensors: Map<string, Waveform>;
  readonly #modes = new Map<string, PinMode>();
  readonly #levels = new Map<string, Level>();
  readonly #analog = new Map<string, number>();
  readonly #watchers = new Set<Watcher>();
  readonly #started = Date.now();
  #failures: Array<{ pin: string | undefined; error: BoardcastError }> = [];
  #status: BoardStatus = 'online';
  #closed = false;
  #writes = 0;
  readonly #registration: RegistrationSlot;

  constructor(options: SimulatedBoardOptions = {}) {
    super();
    this.id = options.id ?? 'sim';
    this.#latencyMs = options.latencyMs ?? 0;
    this.#sensors = new Map(Object.entries(options.sensors ?? {}));
    this.capabilities = { pins: options.pins ?? defaultPins(), sensors: [...this.#sensors.keys()] };
    const board = this;
    this.#registration = {
      current: undefined,
      get closed() {
        return board.#closed;
      },
    };
  }

  /**
   * Make this board channel `channel` of `hub` in one call (a fleet: each
   * board its own channel): its directory entry (`kind`, `status`,
   * `lastSeen`, `firmware`, `capabilities`; `registerBoard`) and its status
   * as state of the channel (the `board` event `{ id, status }`, folded by
   * `boardReducers.board`; `bindBoardStatus`). The status goes `offline`
   * in both when the board goes offline (`goOffline()`) or closes. Bind its LEDs, inputs and
   * sensors to the returned `channel`. Options: `firmware` (default
   * none: a simulated board runs no firmware), `name`, `kind` (default `simulated`), `event` (the status
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

  get status(): BoardStatus {
    return this.#status;
  }

  /**
   * Every operation: refused at once when closed/offline, and, like a real
   * link, not applied when its signal aborted or its deadline passed before it
   * took effect (at the end of the simulated latency).
   */
  async #op<T>(fn: () => T, options: OperationOptions = {}): Promise<T> {
    if (this.#closed) throw new BoardcastError('closed', `board "${this.id}" is closed`);
    if (this.#status === 'offline') throw offline(this.id);
    this.#check(options);
    if (this.#latencyMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, this.#latencyMs));
      if (this.status === 'offline') throw offline(this.id);
      this.#check(options);
    }
    return fn();
  }

  #check(options: OperationOptions): void {
    if (options.signal?.aborted) throw options.signal.reason;
    if (options.deadline !== undefined && performance.now() > options.deadline) {
      throw new BoardcastError('timeout', `board "${this.id}": operation missed its deadline`);
    }
  }

  /** `initial` (default 0) is the level a pin that becomes an output starts at; an output stays as it is. */
  pinMode(pin: Pin, mode: PinMode, options: PinModeOptions = {}): Promise<void> {
    return this.#op(() => {
      requireMode(this.id, this.capabilities, pin, mode);
      if (options.initial !== undefined && !isLevel(options.initial)) {
        throw new BoardcastError('invalid_payload', 'pinMode initial must be 0 or 1');
      }
      const key = pinKey(pin);
      const was = this.#modes.get(key);
      this.#modes.set(key, mode);
      if (mode === 'output') {
        if (was !== 'output' || options.initial !== undefined) this.#levels.set(key, options.initial ?? 0);
      } else if (isInputMode(mode) && !this.#levels.has(key)) this.#levels.set(key, mode === 'input_pullup' ? 1 : 0);
    }, options);
  }

  digitalWrite(pin: Pin, value: Level, options?: OperationOptions): Promise<Level> {
    return this.#op(() => {
      requirePin(this.id, this.capabilities, pin);
      const key = pinKey(pin);
      if (this.#modes.get(key) !== 'output') throw unsupported(this.id, pin, 'is not an output (call pinMode first)');
      if (!isLevel(value)) throw new BoardcastError('invalid_payload', `digitalWrite value must be 0 or 1`);
      const index = this.#failures.findIndex((f) => f.pin === undefined || f.pin === key);
      if (index >= 0) {
        const [failure] = this.#failures.splice(index, 1);
        throw failure!.error;
      }
      this.#levels.set(key, value);
      this.#writes++;
      return value;
    }, options);
  }

  /** Writes the board has applied since it was created (tests count executed commands with it). */
  get writes(): number {
    return this.#writes;
  }

  digitalRead(pin: Pin, options?: OperationOptions): Promise<Level> {
    return this.#op(() => {
      requirePin(this.id, this.capabilities, pin);
      const key = pinKey(pin);
      const mode = this.#modes.get(key);
      if (mode === undefined || mode === 'analog') throw unsupported(this.id, pin, 'is not configured for digital use');
      return this.#levels.get(key) ?? 0;
    }, options);
  }

  analogRead(pin: Pin): Promise<number> {
    return this.#op(() => {
      requirePin(this.id, this.capabilities, pin);
      if (this.#modes.get(pinKey(pin)) !== 'analog') throw unsupported(this.id, pin, 'is not in analog mode');
      return this.#analog.get(pinKey(pin)) ?? 0;
    });
  }

  readSensor(name: string): Promise<number> {
    return this.#op(() => {
      const wave = this.#sensors.get(name);
      if (wave === undefined) throw unsupported(this.id, undefined, `no sensor "${name}"`);
      return sample(wave, Date.now() - this.#started);
    });
  }

  watch(pin: Pin, options: WatchOptions, listener: (edge: PinEdgeEvent) => void): () => void {
    requirePin(this.id, this.capabilities, pin);
    const edge = options.edge ?? 'both';
    const watcher: Watcher = {
      pin,
      edge,
      debouncer: new Debouncer(options.debounceMs ?? 0, this.#levels.get(pinKey(pin)), (value) => {
        if (edgeMatches(edge, value)) listener({ pin, value, at: Date.now() });
      }),
    };
    this.#watchers.add(watcher);
    return () => {
      watcher.debouncer.cancel();
      this.#watchers.delete(watcher);
    };
  }

  // ------------------------------------------------------------ simulation controls

  /** Drive an input. Digital pins take 0/1; analog pins any number. */
  setInput(pin: Pin, value: number): void {
    requirePin(this.id, this.capabilities, pin);
    const key = pinKey(pin);
    const mode = this.#modes.get(key);
    if (mode === 'output') throw unsupported(this.id, pin, 'is an output; setInput drives inputs only');
    if (mode === 'analog') {
      if (!Number.isFinite(value)) throw new BoardcastError('invalid_payload', 'analog input must be a finite number');
      this.#analog.set(key, value);
      return;
    }
    if (!isLevel(value)) throw new BoardcastError('invalid_payload', `digital input must be 0 or 1`);
    this.#levels.set(key, value);
    // An offline board reports nothing; the change surfaces on goOnline().
    if (this.#status === 'online') this.#notify(key, value);
  }

  /** Press a button: the active level for its pull (pull-up reads 0 when pressed). */
  press(pin: Pin): void {
    this.setInput(pin, this.#modes.get(pinKey(pin)) === 'input_pullup' ? 0 : 1);
  }

  release(pin: Pin): void {
    this.setInput(pin, this.#modes.get(pinKey(pin)) === 'input_pullup' ? 1 : 0);
  }

  /** The level a pin holds now (inputs and outputs), without latency or faults. */
  peek(pin: Pin): Level | undefined {
    return this.#levels.get(pinKey(pin));
  }

  /** Make the next write (to `pin`, or to any pin) fail. */
  failNextWrite(pin?: Pin, error?: BoardcastError): void {
    const message = `board "${this.id}": write failed (injected fault)`;
    this.#failures.push({
      pin: pin === undefined ? undefined : pinKey(pin),
      error: error ?? new BoardcastError('handler_failed', message),
    });
  }

  goOffline(): void {
    this.#setStatus('offline');
  }

  /** Back online: watchers see the inputs that changed meanwhile, then `status` fires. */
  goOnline(): void {
    if (this.#status === 'online') return;
    this.#status = 'online';
    for (const [key, value] of this.#levels) this.#notify(key, value);
    this.emit('status', 'online');
  }

  #notify(key: string, value: Level): void {
    for (const watcher of this.#watchers) if (pinKey(watcher.pin) === key) watcher.debouncer.input(value);
  }

  #setStatus(status: BoardStatus): void {
    if (this.#status === status) return;
    this.#status = status;
    this.emit('status', status);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    for (const watcher of this.#watchers) watcher.debouncer.cancel();
    this.#watchers.clear();
    this.#closed = true;
    this.#setStatus('offline');
    this.removeAllListeners();
  }
}
