import { BoardcastError, Emitter } from '@boardcast/core';
import type { Board, Level, Pin, PinEdgeEvent, PinMode } from './board.js';
import { PinSetup } from './pin-setup.js';

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
  readonly #setup: PinSetup;

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
    this.#setup = new PinSetup({
      board,
      pin,
      component: 'Button',
      attempt: () => this.#setUp(),
      interrupted: (error) => this.emit('error', error),
    });
    this.ready = this.#setup.ready;
    this.ready.catch((error) => this.emit('error', error));
    this.#setup.start();
  }

  /** One setup attempt; the watch is made once however many attempts run. */
  async #setUp(): Promise<void> {
    const { board, pin } = this;
    await board.pinMode(pin, this.#mode);
    if (this.#closed) return;
    this.#unwatch ??= board.watch(pin, { edge: 'both', debounceMs: this.#debounceMs }, (edge) => this.#onEdge(edge));
    if (board.status === 'online') {
      const level = await board.digitalRead(pin);
      if (this.#level === undefined) this.#set(level, false);
    }
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
    this.#setup.finish();
    clearTimeout(this.#holdTimer);
    this.#unwatch?.();
    this.#unwatch = undefined;
    this.removeAllListeners();
  }
}
