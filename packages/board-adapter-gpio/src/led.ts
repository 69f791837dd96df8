import { BoardcastError, Emitter } from '@boardcast/core';
import type { Board, Level, OperationOptions, Pin } from './board.js';
import { PinSetup } from './pin-setup.js';

export interface LedOptions {
  /** The LED lights when the pin is low (wired to 3V3 through the LED). Default false. */
  readonly activeLow?: boolean;
  /**
   * State the LED is in the moment its pin becomes an output (default
   * false: off). With `activeLow` the pin starts high, so an active-low relay
   * does not click on when the server starts.
   */
  readonly initial?: boolean;
  /**
   * What the LED does when the board lets go of its pin (`board.close()`,
   * the server ending where the board can still act): `'off'` (default)
   * switches it off first, `'keep'` leaves it as it is. See
   * `PinModeOptions.release`.
   */
  readonly release?: 'off' | 'keep';
  /**
   * Most operations (on/off/toggle/set/refresh) queued on this LED, the
   * running one included (default 16). Beyond it an operation rejects at once
   * with `too_many_requests` (HTTP 429) instead of waiting behind the others.
   */
  readonly maxQueue?: number;
}

/** What an `Led` emits (`led.on('change', fn)`, as `Button`, `Sensor` and boards do). */
export type LedEvents = {
  /** The confirmed state changed (a write, a re-read, a change made at the device). */
  change: (on: boolean) => void;
  /** A failure no caller sees: setting the pin up, a blink step, a re-read after reconnecting. */
  error: (error: unknown) => void;
};

interface Job {
  readonly run: () => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly options: OperationOptions;
  detach: () => void;
}

/**
 * An LED on any board. Its state is the level the board confirms, never the
 * level last asked for; it re-reads the board when the board comes back
 * online, so a UI bound to it shows the truth after a reboot, and it watches
 * its own pin where the board reports outputs (MqttBoard), so a change made
 * at the device (the plug's own button) reaches `change` listeners at once.
 *
 * Names: `turnOn()`/`turnOff()`/`toggle()`/`set(on)` switch it; `on(event,
 * fn)` listens, as on every boardcast emitter (0.2 renamed `on()`/`off()`
 * to `turnOn()`/`turnOff()` and `onChange`/`onError` to `on('change')`/
 * `on('error')`).
 *
 * Operations run one at a time in a bounded queue. Each takes
 * `{ signal, deadline }` (pass a command handler's `context.signal` and
 * `context.deadline`): one whose signal aborts, or whose deadline passes,
 * before its turn is dropped and never reaches the board; it rejects with the
 * signal's reason (normally `timeout`) or `timeout`.
 */
export class Led extends Emitter<LedEvents> {
  readonly board: Board;
  readonly pin: Pin;
  /**
   * Resolves when the pin is configured and its first level read (after the
   * board came back, if setup was cut short by it going offline). Rejects
   * with any other setup failure, or `closed` if closed first.
   */
  readonly ready: Promise<void>;
  readonly #activeLow: boolean;
  readonly #offStatus: () => void;
  readonly #setup: PinSetup;
  readonly #maxQueue: number;
  readonly #jobs: Job[] = [];
  #running = false;
  #on: boolean | undefined;
  #blink: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #unwatch: (() => void) | undefined;

  constructor(board: Board, pin: Pin, options: LedOptions = {}) {
    super();
    this.board = board;
    this.pin = pin;
    this.#activeLow = options.activeLow ?? false;
    this.#maxQueue = options.maxQueue ?? 16;
    if (!(Number.isInteger(this.#maxQueue) && this.#maxQueue >= 1)) {
      throw new BoardcastError('invalid_payload', 'Led maxQueue must be an integer >= 1');
    }
    const initial: Level = (options.initial ?? false) !== this.#activeLow ? 1 : 0;
    const off: Level = this.#activeLow ? 1 : 0;
    const release = options.release ?? 'off';
    if (release !== 'off' && release !== 'keep') {
      throw new BoardcastError('invalid_payload', `Led release must be "off" or "keep", got ${String(release)}`);
    }
    const setUp = async () => {
      await board.pinMode(pin, 'output', { initial, release: release === 'keep' ? 'keep' : off });
      if (!this.#closed) this.#follow();
      if (board.status === 'online') this.#confirm(await board.digitalRead(pin));
    };
    // Through the queue, so operations wait for setup. Cut short by the board
    // going offline, it is done again, not just re-read, when the board is
    // back (a pin that never became an output cannot be read or driven).
    this.#setup = new PinSetup({
      board,
      pin,
      component: 'LED',
      attempt: () => this.#serial(setUp, {}, true),
      interrupted: (error) => this.emit('error', error),
    });
    this.ready = this.#setup.ready;
    this.ready.catch((error) => this.#fail(error));
    this.#offStatus = board.on('status', (status) => {
      // While setup is not finished, an `online` is the PinSetup's to act on.
      if (status !== 'online' || this.#setup.pending) return;
      // Not subject to the bound: the truth after a reconnect is never refused.
      this.#serial(async (o) => this.#confirm(await board.digitalRead(pin, o)), {}, true).catch((error) =>
        this.#fail(error),
      );
    });
    this.#setup.start();
  }

  /** The confirmed state; undefined until the board has answered once. */
  get isOn(): boolean | undefined {
    return this.#on;
  }

  get isBlinking(): boolean {
    return this.#blink !== undefined;
  }

  /** Switch on. Resolves with the confirmed state. Rejects `too_many_requests`, `timeout`, or the board's error. */
  turnOn(options?: OperationOptions): Promise<boolean> {
    this.stop();
    return this.#write(true, options);
  }

  /** Switch off. Resolves with the confirmed state. */
  turnOff(options?: OperationOptions): Promise<boolean> {
    this.stop();
    return this.#write(false, options);
  }

  /** Switch to the opposite of the state confirmed when its turn comes. */
  toggle(options: OperationOptions = {}): Promise<boolean> {
    this.stop();
    return this.#serial((o) => this.#writeNow(!this.#on, o), options);
  }

  set(on: boolean, options?: OperationOptions): Promise<boolean> {
    this.stop();
    return this.#write(on, options);
  }

  /** Toggle every `intervalMs` until `stop()` or any turnOn/turnOff/toggle/set. Failures are `error` events. */
  blink(intervalMs = 500): void {
    if (this.#closed) throw this.#closedError();
    if (!(intervalMs > 0)) throw new BoardcastError('invalid_payload', 'blink interval must be > 0 ms');
    this.stop();
    this.#blink = setInterval(() => {
      // A tick that finds the queue busy is skipped, not queued behind it.
      if (this.#running || this.#jobs.length > 0) return;
      this.#serial((o) => this.#writeNow(!this.#on, o)).catch((error) => this.#fail(error));
    }, intervalMs);
  }

  stop(): void {
    if (this.#blink !== undefined) clearInterval(this.#blink);
    this.#blink = undefined;
  }

  /** Read the board's level again (after a reconnect). */
  refresh(options: OperationOptions = {}): Promise<boolean> {
    return this.#serial(async (o) => this.#confirm(await this.board.digitalRead(this.pin, o)), options);
  }

  /** Operations waiting or running now. */
  get queued(): number {
    return this.#jobs.length + (this.#running ? 1 : 0);
  }

  /**
   * Stop following the board and stop blinking. The operation running now
   * finishes; queued ones and any later call reject `closed`, so a closed Led
   * never drives its pin again (the board and the pin's level stay as they are).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stop();
    for (const job of this.#jobs.splice(0)) {
      job.detach();
      job.reject(this.#closedError());
    }
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.#offStatus();
    this.#setup.fail(this.#closedError());
    this.removeAllListeners();
  }

  /**
   * Follow changes made at the device (a Tasmota plug's own button, another
   * program on the broker) by watching the output's own reported level, so a
   * page shows them at once rather than after the next reconnect. A board
   * that cannot watch an output says `unsupported` and the Led then relies
   * on its re-read when the board comes back online. Not on a remote board:
   * its agent refuses watches on outputs asynchronously (an `error` event
   * per connection), and RemoteBoard already re-announces `online` when it
   * learns a level behind the Led's back.
   */
  #follow(): void {
    if (this.#unwatch || this.board.kind === 'remote') return;
    try {
      this.#unwatch = this.board.watch(this.pin, { edge: 'both' }, (edge) => {
        if (!this.#closed) this.#confirm(edge.value);
      });
    } catch (error) {
      if (!(error instanceof BoardcastError && error.code === 'unsupported')) this.#fail(error);
    }
  }

  #write(on: boolean, options: OperationOptions = {}): Promise<boolean> {
    return this.#serial((o) => this.#writeNow(on, o), options);
  }

  async #writeNow(on: boolean, options: OperationOptions): Promise<boolean> {
    const level: Level = on !== this.#activeLow ? 1 : 0;
    return this.#confirm(await this.board.digitalWrite(this.pin, level, options));
  }

  #confirm(level: Level): boolean {
    const on = (level === 1) !== this.#activeLow;
    const changed = on !== this.#on;
    this.#on = on;
    if (changed && !this.#closed) this.emit('change', on);
    return on;
  }

  /**
   * One board operation at a time, so a toggle acts on the state the previous
   * write confirmed. Bounded; a job whose signal aborts while it waits is
   * removed at once, and one whose deadline passed is dropped at its turn.
   */
  #serial<T>(
    fn: (options: OperationOptions) => Promise<T>,
    options: OperationOptions = {},
    internal = false,
  ): Promise<T> {
    const { signal } = options;
    if (this.#closed) return Promise.reject(this.#closedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!internal && this.queued >= this.#maxQueue) {
      return Promise.reject(
        new BoardcastError(
          'too_many_requests',
          `LED on pin ${String(this.pin)}: ${this.queued} operations already queued`,
          {
            details: { pin: this.pin, limit: this.#maxQueue },
          },
        ),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        run: () => fn(options),
        resolve: resolve as (value: unknown) => void,
        reject,
        options,
        detach: () => undefined,
      };
      if (signal) {
        const onAbort = () => {
          const index = this.#jobs.indexOf(job);
          if (index < 0) return; // already running: the board decides
          this.#jobs.splice(index, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        job.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.#jobs.push(job);
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#running) return;
    const job = this.#jobs.shift();
    if (!job) return;
    this.#running = true;
    const { deadline } = job.options;
    const run =
      deadline !== undefined && performance.now() > deadline
        ? Promise.reject(new BoardcastError('timeout', `LED on pin ${String(this.pin)}: deadline passed while queued`))
        : Promise.resolve().then(job.run);
    // Free the slot before the caller hears back, so a caller that awaits one
    // operation and starts the next never counts the finished one.
    const finish = () => {
      job.detach();
      this.#running = false;
      this.#pump();
    };
    run.then(
      (value) => {
        finish();
        job.resolve(value);
      },
      (error: unknown) => {
        finish();
        job.reject(error);
      },
    );
  }

  #closedError(): BoardcastError {
    return new BoardcastError('closed', `LED on pin ${String(this.pin)} is closed`);
  }

  #fail(error: unknown): void {
    // Without a listener the failure is the caller's (ready rejects, the
    // operation's promise rejects): nothing to log twice.
    if (this.listenerCount('error') === 0) return;
    this.emit('error', error);
  }
}
