import { BoardcastError, Emitter } from '@boardcast/core';
import {
  type Board,
  type BoardCapabilities,
  type BoardEvents,
  type BoardStatus,
  type Edge,
  edgeMatches,
  isLevel,
  type Level,
  type OperationOptions,
  offline,
  type Pin,
  type PinEdgeEvent,
  type PinMode,
  type PinModeOptions,
  pinKey,
  requireMode,
  requirePin,
  type SensorReading,
  type WatchOptions,
} from '../board.js';
import type { BoardConnection } from './connection.js';
import type { BoardFrame, BoardRequest, BoardSnapshot, HelloFrame } from './frames.js';

/** A level the server learned other than as the answer to the caller's own request. */
export interface PinLevelEvent {
  readonly pin: Pin;
  readonly value: Level;
  /**
   * `late`: the answer to a write/read that had already timed out arrived (the
   * board did execute it); `reread`: the server read the pin again after a
   * timeout.
   */
  readonly cause: 'late' | 'reread';
  /** Server clock, ms since epoch. */
  readonly at: number;
}

export type RemoteBoardEvents = BoardEvents & {
  /**
   * The board's real level of a pin differs from what the server last
   * reported (after a timed-out write or read). Watchers of the pin get it as
   * an edge too, and `status: 'online'` is emitted again so components that
   * re-read on `online` (Led) show the board's level.
   */
  level: (event: PinLevelEvent) => void;
};

interface RemoteWatcher {
  readonly pin: Pin;
  readonly edge: Edge;
  readonly debounceMs: number;
  readonly listener: (edge: PinEdgeEvent) => void;
}

/**
 * A board across the network, as seen through the board link. It exists
 * before its agent first connects and survives reconnects: pin modes and
 * watches are remembered and replayed on every return, and the state is
 * resynced from the board's snapshot before `status` turns `online`.
 * Operations while offline fail at once with `board_offline`; `pinMode` and
 * `watch` are configuration and are applied when the board (re)connects.
 */
export class RemoteBoard extends Emitter<RemoteBoardEvents> implements Board {
  readonly id: string;
  readonly kind = 'remote';
  #conn: BoardConnection | undefined;
  #status: BoardStatus = 'offline';
  #capabilities: BoardCapabilities = { pins: [], sensors: [] };
  #firmware: string | undefined;
  readonly #modes = new Map<string, { pin: Pin; mode: PinMode; initial?: Level }>();
  readonly #values = new Map<string, Level>();
  readonly #readings = new Map<string, SensorReading>();
  readonly #watchers = new Set<RemoteWatcher>();
  readonly #rereading = new Set<string>();
  #generation = 0;

  /** @internal Created by `BoardLink.board()`. */
  constructor(id: string) {
    super();
    this.id = id;
  }

  get status(): BoardStatus {
    return this.#status;
  }

  /** Pins and sensors from the agent's last hello (empty before it first connected). */
  get capabilities(): BoardCapabilities {
    return this.#capabilities;
  }

  /** Firmware string from the last hello. */
  get firmware(): string | undefined {
    return this.#firmware;
  }

  /** @internal The live connection, if any (the link checks it before letting another agent claim this id). */
  get connection(): BoardConnection | undefined {
    return this.#conn;
  }

  /** Last reading the board pushed for each sensor. */
  get readings(): ReadonlyMap<string, SensorReading> {
    return this.#readings;
  }

  #known(): boolean {
    return this.#capabilities.pins.length > 0;
  }

  #online(): BoardConnection {
    const conn = this.#conn;
    if (this.#status !== 'online' || !conn || conn.closed) throw offline(this.id);
    return conn;
  }

  /**
   * Remembered and replayed on every reconnect; sent at once when a board is
   * connected. `options.initial` travels as the mode request's `initial`.
   */
  async pinMode(pin: Pin, mode: PinMode, options: PinModeOptions = {}): Promise<void> {
    if (this.#known()) requireMode(this.id, this.#capabilities, pin, mode);
    const entry = options.initial === undefined ? { pin, mode } : { pin, mode, initial: options.initial };
    this.#modes.set(pinKey(pin), entry);
    const conn = this.#conn;
    if (conn && !conn.closed) await conn.request({ type: 'mode', ...entry }, options);
  }

  /**
   * Sends `write` with `deadline = min(now + requestTimeoutMs, options.deadline)`
   * (monotonic); rejects `timeout` at that deadline, `too_many_requests` when
   * the link's request queue is full, and is never sent when `options.signal`
   * aborts first. After a timeout the pin is read again and a different level
   * is reported through `level` (see `RemoteBoardEvents`).
   */
  async digitalWrite(pin: Pin, value: Level, options: OperationOptions = {}): Promise<Level> {
    if (!isLevel(value)) throw new BoardcastError('invalid_payload', 'digitalWrite value must be 0 or 1');
    const conn = this.#online();
    requirePin(this.id, this.#capabilities, pin);
    const result = await conn.request({ type: 'write', pin, value }, options);
    if (!isLevel(result))
      throw new BoardcastError('handler_failed', `board "${this.id}" answered write with a non-level`);
    this.#values.set(pinKey(pin), result);
    return result;
  }

  /** Same deadline, signal and queue rules as `digitalWrite`. */
  async digitalRead(pin: Pin, options: OperationOptions = {}): Promise<Level> {
    const conn = this.#online();
    requirePin(this.id, this.#capabilities, pin);
    const result = await conn.request({ type: 'read', pin }, options);
    if (!isLevel(result))
      throw new BoardcastError('handler_failed', `board "${this.id}" answered read with a non-level`);
    this.#values.set(pinKey(pin), result);
    return result;
  }

  async analogRead(pin: Pin): Promise<number> {
    const conn = this.#online();
    requirePin(this.id, this.#capabilities, pin);
    const result = await conn.request({ type: 'analog', pin });
    if (!Number.isFinite(result))
      throw new BoardcastError('handler_failed', `board "${this.id}" answered analog with a non-number`);
    return result as number;
  }

  async readSensor(name: string): Promise<number> {
    const conn = this.#online();
    const result = await conn.request({ type: 'sensor', name });
    if (!Number.isFinite(result))
      throw new BoardcastError('handler_failed', `board "${this.id}" answered sensor with a non-number`);
    return result as number;
  }

  watch(pin: Pin, options: WatchOptions, listener: (edge: PinEdgeEvent) => void): () => void {
    if (this.#known()) requirePin(this.id, this.#capabilities, pin);
    const watcher: RemoteWatcher = { pin, edge: options.edge ?? 'both', debounceMs: options.debounceMs ?? 0, listener };
    this.#watchers.add(watcher);
    this.#sendWatch(pin);
    return () => {
      if (!this.#watchers.delete(watcher)) return;
      const conn = this.#conn;
      if (conn && !conn.closed && this.#watchDebounce(pin) === undefined) {
        conn.request({ type: 'unwatch', pin }).catch((error) => this.#report(error));
      }
    };
  }

  /** The device debounces once per pin, with the shortest debounce any watcher asked for. */
  #watchDebounce(pin: Pin): number | undefined {
    let min: number | undefined;
    for (const w of this.#watchers)
      if (pinKey(w.pin) === pinKey(pin)) min = Math.min(min ?? w.debounceMs, w.debounceMs);
    return min;
  }

  #sendWatch(pin: Pin): Promise<void> {
    const conn = this.#conn;
    const debounceMs = this.#watchDebounce(pin);
    if (!conn || conn.closed || debounceMs === undefined) return Promise.resolve();
    // The answer (the current level) is not folded into the known values:
    // the snapshot that follows a restore must still see what changed.
    return conn.request({ type: 'watch', pin, edge: 'both', debounceMs }).then(
      () => undefined,
      (error) => this.#report(error),
    );
  }

  #deliver(pin: Pin, value: Level): void {
    const key = pinKey(pin);
    const previous = this.#values.get(key);
    this.#values.set(key, value);
    if (previous === value) return;
    const at = Date.now();
    for (const w of [...this.#watchers]) {
      if (pinKey(w.pin) !== key || !edgeMatches(w.edge, value)) continue;
      try {
        w.listener({ pin: w.pin, value, at });
      } catch (error) {
        this.emit('error', error);
      }
    }
  }

  /**
   * A failure no caller sees goes to `error`, except `board_offline`: the
   * connection is gone, `status` already says so, and the next hello
   * restores modes and watches anyway.
   */
  #report(error: unknown): void {
    if (error instanceof BoardcastError && error.code === 'board_offline') return;
    this.emit('error', error);
  }

  /** A level learned behind the caller's back: watchers, `level`, and `online` again so a Led re-reads. */
  #learn(pin: Pin, value: Level, cause: PinLevelEvent['cause']): void {
    const key = pinKey(pin);
    if (this.#values.get(key) === value) return;
    this.#deliver(pin, value);
    this.emit('level', { pin, value, cause, at: Date.now() });
    if (this.#status === 'online') this.emit('status', 'online');
  }

  /**
   * After a write or read timed out, ask the board for the pin's real level
   * until it answers or the connection is gone (the reconnect snapshot then
   * tells the truth). One re-read per pin at a time.
   */
  #reread(conn: BoardConnection, pin: Pin): void {
    const key = pinKey(pin);
    if (this.#rereading.has(key)) return;
    this.#rereading.add(key);
    const attempt = (): void => {
      if (conn.closed || conn !== this.#conn) {
        this.#rereading.delete(key);
        return;
      }
      conn.request({ type: 'read', pin }).then(
        (value) => {
          this.#rereading.delete(key);
          if (isLevel(value) && conn === this.#conn) this.#learn(pin, value, 'reread');
        },
        (error: unknown) => {
          const code = error instanceof BoardcastError ? error.code : undefined;
          if (code === 'timeout' || code === 'too_many_requests') {
            setTimeout(attempt, code === 'timeout' ? 0 : 100).unref();
            return;
          }
          this.#rereading.delete(key);
          this.#report(error);
        },
      );
    };
    attempt();
  }

  // ------------------------------------------------------------ link side

  /** @internal A sent request expired unanswered: the board may or may not have executed it. */
  expired(conn: BoardConnection, request: BoardRequest): void {
    if (conn !== this.#conn) return;
    if (request.type === 'write' || request.type === 'read') this.#reread(conn, request.pin);
  }

  /** @internal The answer to an expired request: the board did execute it, so its level is the truth. */
  late(conn: BoardConnection, request: BoardRequest, value: unknown): void {
    if (conn !== this.#conn || !isLevel(value)) return;
    if (request.type === 'write' || request.type === 'read') this.#learn(request.pin, value, 'late');
  }

  /** @internal A (re)connected agent: restore, resync, then go online. */
  async attach(conn: BoardConnection, hello: HelloFrame): Promise<void> {
    const generation = ++this.#generation;
    const previous = this.#conn;
    this.#conn = conn;
    if (previous && previous !== conn && !previous.closed)
      previous.close(4000, 'replaced: the previous connection missed its heartbeats');
    this.#capabilities = {
      pins: hello.pins.map(({ pin, modes, name }) => (name === undefined ? { pin, modes } : { pin, modes, name })),
      sensors: hello.sensors,
    };
    this.#firmware = hello.firmware;
    for (const sensor of [...this.#readings.keys()]) if (!hello.sensors.includes(sensor)) this.#readings.delete(sensor);
    const current = () => generation === this.#generation && !conn.closed;
    try {
      for (const entry of this.#modes.values()) {
        const { pin, mode } = entry;
        const cap = this.#capabilities.pins.find((p) => pinKey(p.pin) === pinKey(pin));
        const before = hello.pins.find((p) => pinKey(p.pin) === pinKey(pin))?.mode;
        if (!cap?.modes.includes(mode)) {
          this.emit(
            'error',
            new BoardcastError('unsupported', `board "${this.id}" pin ${pinKey(pin)}: mode "${mode}" is not supported`),
          );
          continue;
        }
        if (before !== mode) await conn.request({ type: 'mode', ...entry }).catch((error) => this.#report(error));
      }
      const pins = new Map<string, Pin>();
      for (const w of this.#watchers) pins.set(pinKey(w.pin), w.pin);
      for (const pin of pins.values()) if (current()) await this.#sendWatch(pin);
      if (!current()) return;
      const snapshot: unknown = await conn.request({ type: 'snapshot' });
      if (!current()) return;
      // Only what the hello announced, and only real values: the snapshot is
      // the board's word, and the per-board maps are bounded by the hello's
      // limits (a snapshot with 1,000 made-up sensor names or a reading of
      // 1e309, which JSON parses as Infinity, is not stored).
      const levels = record(snapshot, 'pins');
      for (const { pin } of this.#capabilities.pins) {
        const level = levels[pinKey(pin)];
        if (isLevel(level)) this.#deliver(pin, level);
      }
      const sensors = record(snapshot, 'sensors');
      const at = Date.now();
      for (const sensor of this.#capabilities.sensors) {
        const value = sensors[sensor];
        if (Number.isFinite(value)) this.#readings.set(sensor, { sensor, value: value as number, at });
      }
    } catch (error) {
      // The connection died mid-restore (board_offline) or the board did
      // not answer: stay offline; the next hello starts over.
      // A BoardcastError here is the board's own answer (or its silence): one
      // disconnect reason, not an unhandled-error stack per connection.
      if (current()) {
        if (!(error instanceof BoardcastError)) this.emit('error', error);
        const why = error instanceof BoardcastError ? `${error.code} ${error.message}` : 'internal error';
        conn.close(1011, `resync failed: ${why.replace(/[^\x20-\x7e]/g, '?').slice(0, 100)}`);
      }
      return;
    }
    if (!current()) return;
    this.#status = 'online';
    this.emit('status', 'online');
  }

  /**
   * @internal An edge or reading. Only pins and sensors the hello announced
   * are accepted (`unsupported` otherwise), so the per-board maps stay
   * bounded by the hello's limits.
   */
  frame(frame: BoardFrame): BoardcastError | undefined {
    if (frame.type === 'edge') {
      if (!this.#capabilities.pins.some((p) => pinKey(p.pin) === pinKey(frame.pin))) {
        return new BoardcastError(
          'unsupported',
          `edge for pin ${pinKey(frame.pin).slice(0, 64)} not announced in hello`,
        );
      }
      this.#deliver(frame.pin, frame.value);
    } else if (frame.type === 'reading') {
      if (!this.#capabilities.sensors.includes(frame.sensor)) {
        return new BoardcastError('unsupported', `reading for sensor "${frame.sensor}" not announced in hello`);
      }
      const reading = { sensor: frame.sensor, value: frame.value, at: Date.now() };
      this.#readings.set(frame.sensor, reading);
      this.emit('reading', reading);
    }
    return undefined;
  }

  /** @internal */
  detach(conn: BoardConnection): void {
    if (conn !== this.#conn) return;
    this.#conn = undefined;
    this.#generation++;
    if (this.#status === 'offline') return;
    this.#status = 'offline';
    this.emit('status', 'offline');
  }

  /** @internal The link forgot this board: drop what it remembered. */
  clear(): void {
    this.#readings.clear();
    this.#values.clear();
    this.#rereading.clear();
  }

  /** Forget watches and drop the current connection. The board object stays usable for a later reconnect. */
  async close(): Promise<void> {
    this.#watchers.clear();
    this.#conn?.close(1001, 'board closed by server');
  }
}

/** `value[key]` when it is a plain object (a snapshot's `pins`/`sensors`), else an empty one. */
function record(value: unknown, key: keyof BoardSnapshot): Readonly<Record<string, unknown>> {
  const inner = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Record<string, unknown>) : {};
}
