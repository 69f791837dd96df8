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
  offline,
  type Pin,
  type PinEdgeEvent,
  type PinMode,
  pinKey,
  requireMode,
  requirePin,
  type SensorReading,
  type WatchOptions,
} from '../board.js';
import type { BoardConnection } from './connection.js';
import type { BoardFrame, BoardSnapshot, HelloFrame } from './frames.js';

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
export class RemoteBoard extends Emitter<BoardEvents> implements Board {
  readonly id: string;
  readonly kind = 'remote';
  #conn: BoardConnection | undefined;
  #status: BoardStatus = 'offline';
  #capabilities: BoardCapabilities = { pins: [], sensors: [] };
  #firmware: string | undefined;
  readonly #modes = new Map<string, { pin: Pin; mode: PinMode }>();
  readonly #values = new Map<string, Level>();
  readonly #readings = new Map<string, SensorReading>();
  readonly #watchers = new Set<RemoteWatcher>();
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

  async pinMode(pin: Pin, mode: PinMode): Promise<void> {
    if (this.#known()) requireMode(this.id, this.#capabilities, pin, mode);
    this.#modes.set(pinKey(pin), { pin, mode });
    const conn = this.#conn;
    if (conn && !conn.closed) await conn.request({ type: 'mode', pin, mode });
  }

  async digitalWrite(pin: Pin, value: Level): Promise<Level> {
    if (!isLevel(value)) throw new BoardcastError('invalid_payload', 'digitalWrite value must be 0 or 1');
    const conn = this.#online();
    requirePin(this.id, this.#capabilities, pin);
    const result = await conn.request({ type: 'write', pin, value });
    if (!isLevel(result))
      throw new BoardcastError('handler_failed', `board "${this.id}" answered write with a non-level`);
    this.#values.set(pinKey(pin), result);
    return result;
  }

  async digitalRead(pin: Pin): Promise<Level> {
    const conn = this.#online();
    requirePin(this.id, this.#capabilities, pin);
    const result = await conn.request({ type: 'read', pin });
    if (!isLevel(result))
      throw new BoardcastError('handler_failed', `board "${this.id}" answered read with a non-level`);
    this.#values.set(pinKey(pin), result);
    return result;
  }

  async analogRead(pin: Pin): Promise<number> {
    const conn = this.#online();
    requirePin(this.id, this.#capabilities, pin);
    const result = await conn.request({ type: 'analog', pin });
    if (typeof result !== 'number')
      throw new BoardcastError('handler_failed', `board "${this.id}" answered analog with a non-number`);
    return result;
  }

  async readSensor(name: string): Promise<number> {
    const conn = this.#online();
    const result = await conn.request({ type: 'sensor', name });
    if (typeof result !== 'number')
      throw new BoardcastError('handler_failed', `board "${this.id}" answered sensor with a non-number`);
    return result;
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
        conn.request({ type: 'unwatch', pin }).catch((error) => this.emit('error', error));
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
      (error) => this.emit('error', error),
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

  // ------------------------------------------------------------ link side

  /** @internal A (re)connected agent: restore, resync, then go online. */
  async attach(conn: BoardConnection, hello: HelloFrame): Promise<void> {
    const generation = ++this.#generation;
    const previous = this.#conn;
    this.#conn = conn;
    if (previous && previous !== conn && !previous.closed) previous.close(4000, 'replaced by a new connection');
    this.#capabilities = {
      pins: hello.pins.map(({ pin, modes, name }) => (name === undefined ? { pin, modes } : { pin, modes, name })),
      sensors: hello.sensors,
    };
    this.#firmware = hello.firmware;
    const current = () => generation === this.#generation && !conn.closed;
    try {
      for (const { pin, mode } of this.#modes.values()) {
        const cap = this.#capabilities.pins.find((p) => pinKey(p.pin) === pinKey(pin));
        const before = hello.pins.find((p) => pinKey(p.pin) === pinKey(pin))?.mode;
        if (!cap?.modes.includes(mode)) {
          this.emit(
            'error',
            new BoardcastError('unsupported', `board "${this.id}" pin ${pinKey(pin)}: mode "${mode}" is not supported`),
          );
          continue;
        }
        if (before !== mode)
          await conn.request({ type: 'mode', pin, mode }).catch((error) => this.emit('error', error));
      }
      const pins = new Map<string, Pin>();
      for (const w of this.#watchers) pins.set(pinKey(w.pin), w.pin);
      for (const pin of pins.values()) if (current()) await this.#sendWatch(pin);
      if (!current()) return;
      const snapshot = (await conn.request({ type: 'snapshot' })) as Partial<BoardSnapshot> | null;
      if (!current()) return;
      for (const [key, level] of Object.entries(snapshot?.pins ?? {})) {
        if (!isLevel(level)) continue;
        const pin = this.#capabilities.pins.find((p) => pinKey(p.pin) === key)?.pin ?? key;
        this.#deliver(pin, level);
      }
      const at = Date.now();
      for (const [sensor, value] of Object.entries(snapshot?.sensors ?? {})) {
        if (typeof value === 'number') this.#readings.set(sensor, { sensor, value, at });
      }
    } catch (error) {
      // The connection died mid-restore (board_offline) or the board did
      // not answer: stay offline; the next hello starts over.
      if (current()) {
        this.emit('error', error);
        conn.close(1011, 'resync failed');
      }
      return;
    }
    if (!current()) return;
    this.#status = 'online';
    this.emit('status', 'online');
  }

  /** @internal */
  frame(frame: BoardFrame): void {
    if (frame.type === 'edge') this.#deliver(frame.pin, frame.value);
    else if (frame.type === 'reading') {
      const reading = { sensor: frame.sensor, value: frame.value, at: Date.now() };
      this.#readings.set(frame.sensor, reading);
      this.emit('reading', reading);
    }
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

  /** Forget watches and drop the current connection. The board object stays usable for a later reconnect. */
  async close(): Promise<void> {
    this.#watchers.clear();
    this.#conn?.close(1001, 'board closed by server');
  }
}
