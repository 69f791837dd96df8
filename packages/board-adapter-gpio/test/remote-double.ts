/**
 * A board agent double in TypeScript, over a real `ws` socket, as strict as
 * the agent it stands for: it says hello first, answers server pings, pings
 * on its own, executes requests strictly one at a time (the agent has one
 * loop), and drops a request whose `deadline` has passed on its estimate of
 * the server's clock (the largest `now - local` it has seen, so a delayed
 * frame can only make it lag). Knobs make it misbehave the ways real boards
 * do: ignore deadlines (an old agent), lose an answer, be slow.
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { BOARD_PROTOCOL } from '../src/index.js';

export interface DoubleOptions {
  readonly port: number;
  readonly token: string;
  readonly id: string;
  readonly path?: string;
  readonly pins?: ReadonlyArray<{ pin: number; modes: string[]; mode?: string }>;
  readonly sensors?: readonly string[];
  /** How long each write takes before it acts (ms, default 0; other requests are immediate). */
  readonly writeDelayMs?: number;
  /** Agent ping period (default 1000 ms). */
  readonly heartbeatMs?: number;
  /** An old agent: executes requests whatever their deadline. */
  readonly ignoreDeadlines?: boolean;
  /** Connect through this port instead (a TCP proxy). */
  readonly via?: number;
}

export interface Executed {
  readonly id: number;
  readonly type: string;
  readonly pin?: number;
  readonly value?: number;
  readonly deadline: number;
  /** The double's estimate of the server clock when it executed. */
  readonly at: number;
  /** performance.now() when it executed: the server runs in this process, so this orders it against the server's answers. */
  readonly realAt: number;
}

export class BoardDouble {
  readonly ws: WebSocket;
  readonly frames: Array<Record<string, unknown>> = [];
  readonly executed: Executed[] = [];
  readonly dropped: Array<{ id: number; type: string }> = [];
  readonly levels: Record<string, 0 | 1> = {};
  /** The next this-many writes are executed but their answers are lost (the server never hears). */
  loseWriteAnswers = 0;
  /** Answer nothing, execute nothing (a stuck agent); pings still answered unless `silent`. */
  paused = false;
  /** Send nothing at all (a dead link from this side). */
  silent = false;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #offset = Number.NEGATIVE_INFINITY;
  #queue: Array<Record<string, unknown>> = [];
  #busy = false;
  readonly #ping: ReturnType<typeof setInterval>;
  readonly #options: DoubleOptions;

  constructor(options: DoubleOptions) {
    this.#options = options;
    for (const p of options.pins ?? [{ pin: 5, modes: ['output', 'input'] }]) this.levels[String(p.pin)] = 0;
    this.ws = new WebSocket(
      `ws://127.0.0.1:${options.via ?? options.port}${options.path ?? '/board'}`,
      BOARD_PROTOCOL,
      {
        headers: { authorization: `Bearer ${options.token}` },
      },
    );
    this.ws.on('error', () => undefined);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode}`)));
    });
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    this.opened.then(
      () =>
        this.#send({
          type: 'hello',
          id: options.id,
          firmware: 'double/1',
          pins: options.pins ?? [{ pin: 5, modes: ['output', 'input'], mode: 'output' }],
          sensors: options.sensors ?? [],
        }),
      () => undefined,
    );
    this.ws.on('message', (data) => this.#onMessage(JSON.parse(String(data)) as Record<string, unknown>));
    this.#ping = setInterval(() => this.#send({ type: 'ping', t: performance.now() }), options.heartbeatMs ?? 1000);
    this.closed.then(() => clearInterval(this.#ping));
  }

  /** The double's estimate of the server's monotonic clock. */
  serverNow(): number {
    return performance.now() + this.#offset;
  }

  errors(): string[] {
    return this.frames.filter((f) => f.type === 'error').map((f) => (f.error as { code: string }).code);
  }

  /** Nothing received and not yet executed or dropped: every request frame so far is in `executed` or `dropped`. */
  get idle(): boolean {
    return this.#queue.length === 0 && !this.#busy;
  }

  get welcomed(): boolean {
    return this.frames.some((f) => f.type === 'welcome');
  }

  /** End a `silent` spell with a ping right away, as an agent whose link came back would. */
  speak(): void {
    this.silent = false;
    this.#send({ type: 'ping', t: performance.now() });
  }

  close(): void {
    clearInterval(this.#ping);
    this.ws.terminate();
  }

  #send(frame: object): void {
    if (this.silent || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify(frame));
  }

  #onMessage(msg: Record<string, unknown>): void {
    this.frames.push(msg);
    if (typeof msg.now === 'number') this.#offset = Math.max(this.#offset, msg.now - performance.now());
    if (msg.type === 'ping') {
      this.#send({ type: 'pong', t: msg.t });
      return;
    }
    if (typeof msg.id !== 'number') return;
    this.#queue.push(msg);
    void this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    while (this.#queue.length > 0) {
      if (this.paused) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      const msg = this.#queue.shift() as Record<string, unknown>;
      const id = msg.id as number;
      const deadline = msg.deadline as number;
      if (msg.type === 'write' && this.#options.writeDelayMs) {
        await new Promise((resolve) => setTimeout(resolve, this.#options.writeDelayMs));
      }
      // The check the agent makes right before acting.
      if (!this.#options.ignoreDeadlines && (typeof deadline !== 'number' || this.serverNow() > deadline)) {
        this.dropped.push({ id, type: msg.type as string });
        this.#send({ type: 'result', id, ok: false, error: { code: 'timeout', message: 'deadline passed' } });
        continue;
      }
      const value = this.#execute(msg);
      this.executed.push({
        id,
        type: msg.type as string,
        pin: msg.pin as number | undefined,
        value: msg.value as number | undefined,
        deadline,
        at: this.serverNow(),
        realAt: performance.now(),
      });
      if (msg.type === 'write' && this.loseWriteAnswers > 0) {
        this.loseWriteAnswers--;
        continue;
      }
      this.#send({ type: 'result', id, ok: true, value });
    }
    this.#busy = false;
  }

  #execute(msg: Record<string, unknown>): unknown {
    const key = String(msg.pin);
    switch (msg.type) {
      case 'write':
        this.levels[key] = msg.value as 0 | 1;
        return this.levels[key];
      case 'read':
        return this.levels[key] ?? 0;
      case 'snapshot':
        return { pins: { ...this.levels }, analog: {}, sensors: {} };
      default:
        return null;
    }
  }
}

/**
 * A bare board socket with the token (no hello yet), for tests that speak the
 * link by hand. Errors are swallowed: refusals are asserted through
 * 'unexpected-response' or 'close'. `onCleanup` receives its terminator.
 */
export function rawBoardSocket(port: number, token: string, onCleanup: (fn: () => void) => void): WebSocket {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/board`, BOARD_PROTOCOL, {
    headers: { authorization: `Bearer ${token}` },
  });
  ws.on('error', () => undefined);
  onCleanup(() => ws.terminate());
  return ws;
}

/** Every frame `ws` receives from now on, decoded, in order. */
export function framesOf(ws: WebSocket): Array<Record<string, unknown>> {
  const frames: Array<Record<string, unknown>> = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data))));
  return frames;
}
