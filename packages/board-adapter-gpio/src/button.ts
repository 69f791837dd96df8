import { BoardcastError, Emitter } from '@boardcast/core';
import type { Board, Level, Pin, PinEdgeEvent, PinMode } from './board.js';

export interface ButtonOptions {
  /** Internal pull resistor: `up` (button to ground, the usual wiring), `down`, or `none`. Default `up`. */
  readonly pull?: 'up' | 'down' | 'none';
  /** Flip the logic: pressed is the level the pull gives. Default false. */
  readonly inverted?: boolean;
  /** This button's own debounce (default 20 ms). */
  readonly debounceMs?: number;
  /** Press duration that fires `hold` (default 500 ms). */
  readonly holdMs?: number;
}

export type ButtonEvents = {
  press: () => void;
  release: () => void;
  /** Fired once per press, after `holdMs`. */
  hold: () => void;
  /** Every debounced change, with the raw level the board reported. */
  change: (pressed: boolean, level: Level) => void;
  error: (error: unknown) => void;
};

/**
 * A push-button on any board. Each button has its own watch, hence its own
 * debounce timer: two buttons pressed together never cancel each other.
 * The constructor throws `invalid_payload` for a `pull` other than
 * `up`/`down`/`none` or a `debounceMs`/`holdMs` that is not a number >= 0.
 *
 * Setting the pin up (`pinMode`, then `watch`, then a first read) may be cut
 * short by the board going offline (`board_offline`: a simulated board taken
 * offline, a remote agent that dropped mid-setup). The button then reports
 * that once on `error` (a `BoardcastError` `board_offline` naming board and
 * pin, the board's error as its `cause`) and sets itself up again the next
 * time the board's `status` turns `online`; its pin is watched once, however
 * many times setup is attempted.
 */
export class Button extends Emitter<ButtonEvents> {
  readonly board: Board;
  readonly pin: Pin;
  /**
   * Resolves once the pin is set up and watched, and its first level read
   * when the board was online (after the board came back, if setup was
   * interrupted by it going offline; at `close()` if that comes first).
   * Rejects with any other setup failure (`unsupported` …), which is also
   * emitted on `error`.
   */
  readonly ready: Promise<void>;
  readonly #activeLevel: Level;
  readonly #holdMs: number;
  readonly #mode: PinMode;
  readonly #debounceMs: number;
  #pressed: boolean | undefined;
  #level: Level | undefined;
  #holdTimer: ReturnType<typeof setTimeout> | undefined;
  #unwatch: (() => void) | undefined;
  #closed = false;
  /** Setup not finished yet: the board's next `online` starts it again. */
  #offStatus: (() => void) | undefined;
  #settingUp = false;
  /** The board came online while a setup attempt was running: retry if that attempt finds it offline. */
  #onlineDuringSetup = false;
  #interruptionReported = false;
  #settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;

  constructor(board: Board, pin: Pin, options: ButtonOptions = {}) {
    super();
    this.board = board;
    this.pin = pin;
    const pull = options.pull ?? 'up';
    // A typo (`pull: 'UP'`, a negative debounce) would otherwise give a
    // button whose press reads as a release, found only on the bench.
    if (pull !== 'up' && pull !== 'down' && pull !== 'none') {
      throw new BoardcastError('invalid_payload', `Button pull must be "up", "down" or "none", got ${String(pull)}`);
    }
    for (const [name, value] of [
      ['debounceMs', options.debounceMs],
      ['holdMs', options.holdMs],
    ] as const) {
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
        throw new BoardcastError('invalid_payload', `Button ${name} must be a number of ms >= 0, got ${String(value)}`);
      }
    }
    // With a pull-up the idle level is 1 and pressing pulls the pin to 0.
    const activeLow = pull === 'up';
    this.#activeLevel = activeLow !== (options.inverted ?? false) ? 0 : 1;
    this.#holdMs = options.holdMs ?? 500;
    this.#debounceMs = options.debounceMs ?? 20;
    this.#mode = pull === 'up' ? 'input_pullup' : pull === 'down' ? 'input_pulldown' : 'input';
    this.ready = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.ready.catch((error) => this.emit('error', error));
    this.#offStatus = board.on('status', (status) => {
      if (status !== 'online') return;
      if (this.#settingUp) this.#onlineDuringSetup = true;
      else void this.#setUp();
    });
    void this.#setUp();
  }

  /** One setup attempt; only one runs at a time, and the watch is made once. */
  async #setUp(): Promise<void> {
    if (this.#closed || this.#settle === undefined || this.#settingUp) return;
    this.#settingUp = true;
    this.#onlineDuringSetup = false;
    const { board, pin } = this;
    try {
      await board.pinMode(pin, this.#mode);
      if (this.#closed) return;
      this.#unwatch ??= board.watch(pin, { edge: 'both', debounceMs: this.#debounceMs }, (edge) => this.#onEdge(edge));
      if (board.status === 'online') {
        const level = await board.digitalRead(pin);
        if (this.#level === undefined) this.#set(level, false);
      }
      this.#done()?.resolve();
    } catch (error) {
      if (this.#closed) return;
      if (!(error instanceof BoardcastError && error.code === 'board_offline')) {
        this.#done()?.reject(error);
        return;
      }
      // Reported once: the board's own `status` already says each later
      // drop, and a retry per reconnect must not become an error per reconnect.
      if (!this.#interruptionReported) {
        this.#interruptionReported = true;
        this.emit(
          'error',
          new BoardcastError(
            'board_offline',
            `Button on board "${board.id}" pin ${String(pin)}: setup interrupted by the board going offline; it sets up again when the board is back online`,
            { cause: error, details: { board: board.id, pin } },
          ),
        );
      }
    } finally {
      this.#settingUp = false;
    }
    // The board came back while the attempt was failing: its `online` was
    // seen then, so retry now rather than wait for the next one.
    if (this.#settle !== undefined && this.#onlineDuringSetup && this.board.status === 'online') void this.#setUp();
  }

  /** Setup finished: stop following the board's status and hand back `ready`'s settle functions. */
  #done(): { resolve: () => void; reject: (error: unknown) => void } | undefined {
    const settle = this.#settle;
    this.#settle = undefined;
    this.#offStatus?.();
    this.#offStatus = undefined;
    return settle;
  }

  get isPressed(): boolean {
    return this.#pressed ?? false;
  }

  /** Last debounced level, undefined before the first read. */
  get level(): Level | undefined {
    return this.#level;
  }

  #onEdge(edge: PinEdgeEvent): void {
    this.#set(edge.value, true);
  }

  #set(level: Level, announce: boolean): void {
    if (this.#closed) return;
    const pressed = level === this.#activeLevel;
    const changed = level !== this.#level;
    this.#level = level;
    const wasPressed = this.#pressed;
    this.#pressed = pressed;
    if (!announce || !changed) return;
    this.emit('change', pressed, level);
    // The first level learned through an edge (a board that came online) is
    // not a release.
    if (pressed === wasPressed || (wasPressed === undefined && !pressed)) return;
    if (pressed) {
      this.emit('press');
      clearTimeout(this.#holdTimer);
      this.#holdTimer = setTimeout(() => {
        this.#holdTimer = undefined;
        if (this.#pressed) this.emit('hold');
      }, this.#holdMs);
    } else {
      clearTimeout(this.#holdTimer);
      this.#holdTimer = undefined;
      this.emit('release');
    }
  }

  close(): void {
    this.#closed = true;
    this.#done()?.resolve();
    clearTimeout(this.#holdTimer);
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.removeAllListeners();
  }
}
