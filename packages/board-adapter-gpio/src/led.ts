import { BoardcastError } from '@boardcast/core';
import type { Board, Level, Pin } from './board.js';

export interface LedOptions {
  /** The LED lights when the pin is low (wired to 3V3 through the LED). Default false. */
  readonly activeLow?: boolean;
}

/**
 * An LED on any board. Its state is the level the board confirms, never the
 * level last asked for; it re-reads the board when the board comes back
 * online, so a UI bound to it shows the truth after a reboot.
 */
export class Led {
  readonly board: Board;
  readonly pin: Pin;
  /** Settles when the pin is configured and its first level read. */
  readonly ready: Promise<void>;
  readonly #activeLow: boolean;
  readonly #listeners = new Set<(on: boolean) => void>();
  readonly #errorListeners = new Set<(error: unknown) => void>();
  readonly #offStatus: () => void;
  #on: boolean | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #blink: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(board: Board, pin: Pin, options: LedOptions = {}) {
    this.board = board;
    this.pin = pin;
    this.#activeLow = options.activeLow ?? false;
    this.ready = this.#serial(async () => {
      await board.pinMode(pin, 'output');
      if (board.status === 'online') this.#confirm(await board.digitalRead(pin));
    });
    this.ready.catch((error) => this.#fail(error));
    this.#offStatus = board.on('status', (status) => {
      if (status === 'online') this.refresh().catch((error) => this.#fail(error));
    });
  }

  /** The confirmed state; undefined until the board has answered once. */
  get isOn(): boolean | undefined {
    return this.#on;
  }

  get isBlinking(): boolean {
    return this.#blink !== undefined;
  }

  on(): Promise<boolean> {
    this.stop();
    return this.#write(true);
  }

  off(): Promise<boolean> {
    this.stop();
    return this.#write(false);
  }

  /** Switch to the opposite of the confirmed state. */
  toggle(): Promise<boolean> {
    this.stop();
    return this.#serial(() => this.#writeNow(!this.#on));
  }

  set(on: boolean): Promise<boolean> {
    this.stop();
    return this.#write(on);
  }

  /** Toggle every `intervalMs` until `stop()` or any on/off/toggle. Failures are reported through `onError`. */
  blink(intervalMs = 500): void {
    if (!(intervalMs > 0)) throw new BoardcastError('invalid_payload', 'blink interval must be > 0 ms');
    this.stop();
    this.#blink = setInterval(() => {
      this.#serial(() => this.#writeNow(!this.#on)).catch((error) => this.#fail(error));
    }, intervalMs);
  }

  stop(): void {
    if (this.#blink !== undefined) clearInterval(this.#blink);
    this.#blink = undefined;
  }

  /** Read the board's level again (after a reconnect). */
  refresh(): Promise<boolean> {
    return this.#serial(async () => this.#confirm(await this.board.digitalRead(this.pin)));
  }

  /** Listen to confirmed changes; returns the unsubscribe function. */
  onChange(listener: (on: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onError(listener: (error: unknown) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    this.stop();
    this.#offStatus();
    this.#listeners.clear();
    this.#errorListeners.clear();
  }

  #write(on: boolean): Promise<boolean> {
    return this.#serial(() => this.#writeNow(on));
  }

  async #writeNow(on: boolean): Promise<boolean> {
    const level: Level = on !== this.#activeLow ? 1 : 0;
    return this.#confirm(await this.board.digitalWrite(this.pin, level));
  }

  #confirm(level: Level): boolean {
    const on = (level === 1) !== this.#activeLow;
    const changed = on !== this.#on;
    this.#on = on;
    if (changed && !this.#closed) {
      for (const listener of [...this.#listeners]) listener(on);
    }
    return on;
  }

  /** One board operation at a time, so a toggle acts on the state the previous write confirmed. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #fail(error: unknown): void {
    if (this.#errorListeners.size === 0) return;
    for (const listener of [...this.#errorListeners]) listener(error);
  }
}
