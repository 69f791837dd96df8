import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BoardcastError, isErrorCode } from '@boardcast/core';
import { logSafe } from '@boardcast/core/server';

/** One frame the helper wrote, parsed (a JSON object): a board-protocol frame (`result`, `edge`, `hello`, …). */
export type HelperMessage = Record<string, unknown>;

/** Longest line accepted from the helper (its answers and events are < 1 KB). */
const MAX_HELPER_LINE = 1 << 20;

export interface HelperProcessOptions {
  readonly boardId: string;
  readonly python: string;
  readonly helperPath: string;
  readonly env: Readonly<Record<string, string>> | undefined;
  /** Frames nobody asked for: `{"type":"edge"|"overflow"|"hello",…}` (an `error` frame goes to `onError`). */
  readonly onEvent: (message: HelperMessage) => void;
  /** Failures no request carries (a malformed line). */
  readonly onError: (error: BoardcastError) => void;
}

interface Pending {
  readonly resolve: (value: HelperMessage) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

export function defaultHelperPath(): string {
  // src/*.ts, dist/index.js and dist/index.cjs all sit one level below the package root.
  const here = typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));
  return join(here, '..', 'gpio-helper', 'boardcast_gpio_helper.py');
}

/**
 * One run of `gpio-helper/boardcast_gpio_helper.py`: spawns it, frames its
 * newline-delimited JSON (the board protocol's frames, as the agent sends
 * them over its WebSocket: `result` by id, `edge`, `error`, `hello`), matches
 * results to requests by id and turns whatever it writes into typed errors
 * (never a throw inside a stream callback). `exited` settles once, with the reason, when the process is gone
 * (or never started); every request still waiting then rejects with it.
 */
export class GpioHelperProcess {
  readonly pid: number | undefined;
  /** Resolves with `board_offline` (or `unsupported` when it could not start) once the process is gone. */
  readonly exited: Promise<BoardcastError>;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #options: HelperProcessOptions;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #stderr = '';
  #buffer = '';
  #gone: BoardcastError | undefined;

  constructor(options: HelperProcessOptions) {
    this.#options = options;
    const child = spawn(options.python, ['-u', options.helperPath], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env, BOARDCAST_GPIO_PARENT: String(process.pid) },
    });
    this.#child = child;
    this.pid = child.pid;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
    child.stdin.on('error', () => undefined); // EPIPE after the helper died: reported by 'exit'
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.#onData(chunk));
    this.exited = new Promise<BoardcastError>((resolve) => {
      child.on('error', (error: NodeJS.ErrnoException) => {
        const why =
          error.code === 'ENOENT'
            ? `${options.python} not found (install python3 and python3-libgpiod)`
            : error.message;
        resolve(
          this.#fail(
            new BoardcastError('unsupported', `board "${options.boardId}": cannot start the GPIO helper: ${why}`, {
              cause: error,
            }),
          ),
        );
      });
      child.on('exit', (code, signal) => {
        const stderr = this.#stderr.trim();
        resolve(
          this.#fail(
            new BoardcastError(
              'board_offline',
              `board "${options.boardId}": the GPIO helper exited (${signal ?? `code ${code}`})${stderr ? `: ${stderr.slice(-500)}` : ''}`,
            ),
          ),
        );
      });
    });
  }

  get running(): boolean {
    return this.#gone === undefined;
  }

  /** First failure wins; every waiting request rejects with it. */
  #fail(error: BoardcastError): BoardcastError {
    this.#gone ??= error;
    for (const [id, waiter] of this.#pending) {
      clearTimeout(waiter.timer);
      this.#pending.delete(id);
      waiter.reject(this.#gone);
    }
    return this.#gone;
  }

  /**
   * Send one request; resolves with the helper's `ok` answer, rejects with
   * its typed error, `timeout` after `timeoutMs` or the exit reason. Once
   * written a request is not withdrawn: it reaches the kernel within
   * microseconds, so a write that was sent is one that happened.
   */
  request(type: string, body: Record<string, unknown>, timeoutMs: number): Promise<HelperMessage> {
    if (this.#gone) return Promise.reject(this.#gone);
    const boardId = this.#options.boardId;
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new BoardcastError(
            'timeout',
            `board "${boardId}": the GPIO helper did not answer ${type} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      this.#child.stdin.write(`${JSON.stringify({ type, id, ...body })}\n`);
    });
  }

  #onData(chunk: string): void {
    const { boardId, onError, onEvent } = this.#options;
    this.#buffer += chunk;
    if (this.#buffer.length > MAX_HELPER_LINE && !this.#buffer.includes('\n')) {
      // The helper's lines are short; anything else is not worth buffering.
      this.#buffer = '';
      onError(new BoardcastError('handler_failed', `board "${boardId}": GPIO helper wrote an over-long line; dropped`));
    }
    for (let nl = this.#buffer.indexOf('\n'); nl >= 0; nl = this.#buffer.indexOf('\n')) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        onError(new BoardcastError('handler_failed', `GPIO helper wrote a non-JSON line: ${logSafe(line)}`));
        continue;
      }
      // `null`, a list, a number: JSON, but reading `.id` off them would
      // throw inside this stream callback and take the server down.
      if (message === null || typeof message !== 'object' || Array.isArray(message)) {
        onError(
          new BoardcastError('handler_failed', `GPIO helper wrote a line that is not an object: ${logSafe(line)}`),
        );
        continue;
      }
      const frame = message as HelperMessage;
      if (frame.type === 'result' && typeof frame.id === 'number') {
        const waiter = this.#pending.get(frame.id);
        if (!waiter) continue;
        this.#pending.delete(frame.id);
        clearTimeout(waiter.timer);
        if (frame.ok === true) waiter.resolve(frame);
        else waiter.reject(helperError(boardId, frame.error));
      } else if (frame.type === 'error') {
        const error = helperError(boardId, frame.error);
        onError(new BoardcastError(error.code, `GPIO helper: ${logSafe(error.message)}`));
      } else if (typeof frame.type === 'string') {
        onEvent(frame);
      } else {
        onError(new BoardcastError('handler_failed', `GPIO helper wrote a frame without a type: ${logSafe(line)}`));
      }
    }
  }

  /**
   * End the helper: `close` (it drives each output's release level and
   * releases its lines), then stdin closed; SIGKILL if it has not exited
   * after `graceMs`. Resolves once it is gone.
   */
  async stop(graceMs = 2000): Promise<void> {
    if (this.#gone) return;
    this.request('close', {}, graceMs).catch(() => undefined);
    this.#child.stdin.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kill at once (a helper that failed to open). */
  kill(): void {
    if (this.#gone) return;
    this.#child.stdin.end();
    this.#child.kill('SIGKILL');
  }
}

function helperError(boardId: string, raw: unknown): BoardcastError {
  const error = (raw ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
  const code = isErrorCode(error.code) ? error.code : 'handler_failed';
  const message = typeof error.message === 'string' ? error.message : 'GPIO helper error';
  return new BoardcastError(code, `board "${boardId}": ${message}`, { details: error.details });
}
