import { BoardcastError } from '@boardcast/core';

/** A pin as the board names it: a GPIO number (ESP32 `5`) or a line name (`"GPIO17"`). */
export type Pin = number | string;
export type Level = 0 | 1;
export type PinMode = 'input' | 'input_pullup' | 'input_pulldown' | 'output' | 'analog';
export type Edge = 'rising' | 'falling' | 'both';
export type BoardStatus = 'online' | 'offline';

export const PIN_MODES: readonly PinMode[] = ['input', 'input_pullup', 'input_pulldown', 'output', 'analog'];
export const DIGITAL_MODES: readonly PinMode[] = ['input', 'input_pullup', 'input_pulldown', 'output'];

export interface PinCapability {
  readonly pin: Pin;
  /** Modes this pin supports. */
  readonly modes: readonly PinMode[];
  /** Human name from the board (line name, label in the agent config). */
  readonly name?: string | undefined;
}

export interface BoardCapabilities {
  readonly pins: readonly PinCapability[];
  /** Named sensors `readSensor()` accepts. */
  readonly sensors: readonly string[];
}

/**
 * A debounced input change. `at` is when it happened, in ms since the epoch
 * on the server's clock: the kernel's timestamp of the edge where the board
 * has one (LinuxGpioBoard), otherwise the time the server learned of it.
 */
export interface PinEdgeEvent {
  readonly pin: Pin;
  readonly value: Level;
  readonly at: number;
}

export interface WatchOptions {
  /** Which changes to report (default `both`). */
  readonly edge?: Edge;
  /** A level counts once it has held this long (default 0: every change). */
  readonly debounceMs?: number;
}

export interface SensorReading {
  readonly sensor: string;
  readonly value: number;
  readonly at: number;
}

export type BoardEvents = {
  status: (status: BoardStatus) => void;
  /** Readings the board pushes by itself (remote agents with `interval_ms`). */
  reading: (reading: SensorReading) => void;
  /** Failures no caller will see (a watch the board refused, a restore step …). */
  error: (error: unknown) => void;
  /**
   * The kernel's edge queue overflowed and edges of `pin` were lost
   * (`dropped`: how many, or null when the kernel does not say: the v1
   * uAPI). The level reported after it is the line's level read back, so no
   * watcher is left with a stale level; this says that intermediate changes
   * were missed. LinuxGpioBoard only.
   */
  overflow: (info: { readonly pin: Pin; readonly dropped: number | null }) => void;
};

/** Options every board operation accepts. */
export interface OperationOptions {
  /**
   * Cancels the operation. One that has not started when the signal aborts is
   * never started (a queued write is dropped, a remote request is not sent)
   * and rejects with the signal's reason (a `BoardcastError`, normally
   * `timeout`). Pass a command handler's `context.signal`.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Latest time the operation may still take effect, on this process's
   * `performance.now()` clock (ms). A remote board sends it with the request
   * so the agent drops a request that arrives too late instead of executing
   * it. Pass a command handler's `context.deadline`.
   */
  readonly deadline?: number | undefined;
}

/** Options of `pinMode`. */
export interface PinModeOptions extends OperationOptions {
  /**
   * Physical level an output is driven to the moment it becomes an output
   * (default 0). `Led` sets it from its `initial` state and `activeLow`, so an
   * active-low relay does not click on when the server starts.
   */
  readonly initial?: Level | undefined;
  /**
   * What an output does when the board lets go of it: on `close()`, and when
   * the server process ends (SIGTERM, SIGINT, a crash) where the board can
   * still act. A level is driven first, then the line is released; `'keep'`
   * releases it as it is. Default: `initial` (for a `Led`, its off level).
   * Honoured by LinuxGpioBoard (the kernel keeps a released line's level, so
   * without this an LED stays lit after the server stops) and the board
   * agent; ignored where there is no pin to release (simulated, MQTT).
   */
  readonly release?: Level | 'keep' | undefined;
}

/**
 * One interface for every board, simulated, local or across Wi-Fi. Operations
 * are async because a remote board answers over the network; they reject
 * with `BoardcastError` (`unsupported` naming board and pin, `board_offline`
 * at once when the board is offline, `timeout`).
 */
export interface Board {
  readonly id: string;
  /** `simulated`, `linux-gpio`, `remote` … */
  readonly kind: string;
  readonly status: BoardStatus;
  readonly capabilities: BoardCapabilities;
  on<K extends keyof BoardEvents>(event: K, listener: BoardEvents[K]): () => void;
  off<K extends keyof BoardEvents>(event: K, listener: BoardEvents[K]): void;
  pinMode(pin: Pin, mode: PinMode, options?: PinModeOptions): Promise<void>;
  /** Resolves with the level the board confirms after the write (the board's word, not the request's). */
  digitalWrite(pin: Pin, value: Level, options?: OperationOptions): Promise<Level>;
  digitalRead(pin: Pin, options?: OperationOptions): Promise<Level>;
  /** Report debounced changes of an input; returns the unsubscribe function. Each call debounces on its own. */
  watch(pin: Pin, options: WatchOptions, listener: (edge: PinEdgeEvent) => void): () => void;
  analogRead(pin: Pin): Promise<number>;
  readSensor(name: string): Promise<number>;
  close(): Promise<void>;
}

export function pinKey(pin: Pin): string {
  return String(pin);
}

export function isLevel(value: unknown): value is Level {
  return value === 0 || value === 1;
}

export function isPinMode(value: unknown): value is PinMode {
  return typeof value === 'string' && (PIN_MODES as readonly string[]).includes(value);
}

export function unsupported(boardId: string, pin: Pin | undefined, what: string): BoardcastError {
  const where = pin === undefined ? `board "${boardId}"` : `board "${boardId}" pin ${pinKey(pin)}`;
  return new BoardcastError('unsupported', `${where}: ${what}`, { details: { board: boardId, pin } });
}

export function offline(boardId: string): BoardcastError {
  return new BoardcastError('board_offline', `board "${boardId}" is offline`, { details: { board: boardId } });
}

/** The capability entry for `pin`, or an `unsupported` error naming board and pin. */
export function requirePin(boardId: string, capabilities: BoardCapabilities, pin: Pin): PinCapability {
  const key = pinKey(pin);
  const found = capabilities.pins.find((p) => pinKey(p.pin) === key);
  if (!found) throw unsupported(boardId, pin, 'no such pin');
  return found;
}

export function requireMode(boardId: string, capabilities: BoardCapabilities, pin: Pin, mode: PinMode): PinCapability {
  if (!isPinMode(mode)) throw unsupported(boardId, pin, `unknown mode "${String(mode)}"`);
  const cap = requirePin(boardId, capabilities, pin);
  if (!cap.modes.includes(mode)) throw unsupported(boardId, pin, `mode "${mode}" is not supported`);
  return cap;
}

export function isInputMode(mode: PinMode | undefined): boolean {
  return mode === 'input' || mode === 'input_pullup' || mode === 'input_pulldown';
}

export function edgeMatches(edge: Edge, value: Level): boolean {
  return edge === 'both' || (edge === 'rising') === (value === 1);
}
