import type { Level } from './board.js';

/**
 * "Stable for N ms" debounce: a new level is reported once it has held for
 * `ms` without a change; a bounce back to the reported level cancels it.
 * One instance per watch, so two buttons never share a timer.
 */
export class Debouncer {
  #stable: Level | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #ms: number;
  readonly #emit: (value: Level) => void;

  constructor(ms: number, initial: Level | undefined, emit: (value: Level) => void) {
    this.#ms = Math.max(0, ms);
    this.#stable = initial;
    this.#emit = emit;
  }

  get stable(): Level | undefined {
    return this.#stable;
  }

  /** Re-seed after a resync without reporting. */
  reset(level: Level | undefined): void {
    this.cancel();
    this.#stable = level;
  }

  input(value: Level): void {
    this.cancel();
    if (value === this.#stable) return;
    if (this.#ms === 0) {
      this.#stable = value;
      this.#emit(value);
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#stable = value;
      this.#emit(value);
    }, this.#ms);
  }

  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
