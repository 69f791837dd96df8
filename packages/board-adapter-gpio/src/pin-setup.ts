import { BoardcastError } from '@boardcast/core';
import type { Board, Pin } from './board.js';

/** What a component (`Button`, `Led`) gives its `PinSetup`. */
export interface PinSetupOptions {
  readonly board: Board;
  readonly pin: Pin;
  /** The component's name as messages show it (`Button`, `LED`). */
  readonly component: string;
  /**
   * One setup attempt (set the pin's mode, watch it, read it …). Rejecting
   * `board_offline` means "cut short by the board going offline: try again
   * when it is back"; any other rejection is final.
   */
  readonly attempt: () => Promise<void>;
  /** Told once when an attempt is cut short by the board going offline. */
  readonly interrupted: (error: BoardcastError) => void;
}

/**
 * A component's pin setup, done again each time the board comes back online
 * until it succeeds: `Button` and `Led` share it (not exported).
 *
 * - Attempts run one at a time: the first at `start()`, then one per
 *   `online` of the board while setup is not finished. An `online` seen while
 *   an attempt is running retries at once if that attempt then fails
 *   `board_offline` (its `online` has been seen and will not come again).
 * - The first attempt cut short (`board_offline`) is reported once through
 *   `interrupted` as a `BoardcastError` `board_offline` naming board and pin,
 *   the board's error as its `cause`: the board's own `status` says each later
 *   drop, and a retry per reconnect must not become an error per reconnect.
 * - `ready` resolves when an attempt succeeds and rejects with the first
 *   other failure. `finish()`/`fail(error)` settle it early (the component
 *   closed) and make any attempt still running count for nothing.
 */
export class PinSetup {
  readonly ready: Promise<void>;
  readonly #options: PinSetupOptions;
  /** `ready`'s settle functions while setup is not finished. */
  #settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  #offStatus: (() => void) | undefined;
  #attempting = false;
  #onlineDuringAttempt = false;
  #interruptionReported = false;

  constructor(options: PinSetupOptions) {
    this.#options = options;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.#offStatus = options.board.on('status', (status) => {
      if (status !== 'online') return;
      if (this.#attempting) this.#onlineDuringAttempt = true;
      else this.#attempt();
    });
  }

  /** True until setup succeeded, failed for good, or `finish()`/`fail()` was called. */
  get pending(): boolean {
    return this.#settle !== undefined;
  }

  /** The first attempt, once: call it when the component can take `attempt` and `ready`'s rejection. */
  start(): void {
    this.#attempt();
  }

  /** Stop with `ready` resolved (if not settled yet); an attempt still running counts for nothing. */
  finish(): void {
    this.#stop()?.resolve();
  }

  /** Stop with `ready` rejected with `error` (if not settled yet); an attempt still running counts for nothing. */
  fail(error: unknown): void {
    this.#stop()?.reject(error);
  }

  /** Stop following the board's status and hand back `ready`'s settle functions, once. */
  #stop(): { resolve: () => void; reject: (error: unknown) => void } | undefined {
    const settle = this.#settle;
    this.#settle = undefined;
    this.#offStatus?.();
    this.#offStatus = undefined;
    return settle;
  }

  /** Never while one runs: `online` then only marks `#onlineDuringAttempt`. */
  #attempt(): void {
    if (this.#settle === undefined) return;
    this.#attempting = true;
    this.#onlineDuringAttempt = false;
    // Through a promise's executor, so an attempt that throws at once counts as rejecting.
    new Promise<void>((resolve) => resolve(this.#options.attempt())).then(
      () => {
        this.#attempting = false;
        this.finish();
      },
      (error: unknown) => {
        this.#attempting = false;
        if (this.#settle === undefined) return;
        if (!(error instanceof BoardcastError && error.code === 'board_offline')) {
          this.fail(error);
          return;
        }
        this.#reportInterruption(error);
        // The board came back while the attempt was failing: retry now.
        if (this.#onlineDuringAttempt && this.#options.board.status === 'online') this.#attempt();
      },
    );
  }

  #reportInterruption(cause: BoardcastError): void {
    if (this.#interruptionReported) return;
    this.#interruptionReported = true;
    const { board, pin, component } = this.#options;
    this.#options.interrupted(
      new BoardcastError(
        'board_offline',
        `${component} on board "${board.id}" pin ${String(pin)}: setup interrupted by the board going offline; it sets up again when the board is back online`,
        { cause, details: { board: board.id, pin } },
      ),
    );
  }
}
