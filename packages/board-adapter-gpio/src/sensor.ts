import { BoardcastError, Emitter } from '@boardcast/core';
import type { Board, Pin, SensorReading } from './board.js';

export interface SensorOptions {
  /** What to sample: a named sensor (`readSensor`) or an analog pin (`analogRead`). */
  readonly source: { readonly sensor: string } | { readonly pin: Pin };
  /** Name used in readings (default: the sensor name, or `pin<N>`). */
  readonly name?: string;
  /** Sampling period (default 1000 ms). */
  readonly intervalMs?: number;
  /** Raw → value: a function, or a linear map `{ from: [rawLow, rawHigh], to: [low, high] }`. */
  readonly scale?:
    | ((raw: number) => number)
    | { readonly from: readonly [number, number]; readonly to: readonly [number, number] };
  /** `change` fires only when the value moved at least this much (default 0: any change). */
  readonly threshold?: number;
}

export type SensorEvents = {
  /** Every sample. */
  reading: (reading: SensorReading) => void;
  /** Samples that moved at least `threshold` from the last reported one. */
  change: (reading: SensorReading) => void;
  error: (error: unknown) => void;
};

/** Periodic sampling with scaling and a change threshold, on any board. */
export class Sensor extends Emitter<SensorEvents> {
  readonly board: Board;
  readonly name: string;
  readonly #options: SensorOptions;
  readonly #scale: (raw: number) => number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #last: SensorReading | undefined;
  #reported: number | undefined;
  #busy = false;

  constructor(board: Board, options: SensorOptions) {
    super();
    this.board = board;
    this.#options = options;
    const source = options.source;
    this.name = options.name ?? ('sensor' in source ? source.sensor : `pin${String(source.pin)}`);
    const scale = options.scale;
    if (typeof scale === 'function') this.#scale = scale;
    else if (scale) {
      const [r0, r1] = scale.from;
      const [v0, v1] = scale.to;
      if (r1 === r0) throw new BoardcastError('invalid_payload', 'sensor scale "from" range is empty');
      this.#scale = (raw) => v0 + ((raw - r0) * (v1 - v0)) / (r1 - r0);
    } else this.#scale = (raw) => raw;
  }

  get value(): number | undefined {
    return this.#last?.value;
  }

  get last(): SensorReading | undefined {
    return this.#last;
  }

  /** Start periodic sampling (an analog pin is put into `analog` mode first). */
  async start(): Promise<void> {
    if (this.#timer !== undefined) return;
    if ('pin' in this.#options.source) await this.board.pinMode(this.#options.source.pin, 'analog');
    this.#timer = setInterval(() => void this.sample().catch(() => undefined), this.#options.intervalMs ?? 1000);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Take one sample now. Skipped (resolves undefined) while the board is offline or a sample is running. */
  async sample(): Promise<SensorReading | undefined> {
    if (this.#busy || this.board.status === 'offline') return undefined;
    this.#busy = true;
    try {
      const source = this.#options.source;
      const raw =
        'sensor' in source ? await this.board.readSensor(source.sensor) : await this.board.analogRead(source.pin);
      const reading: SensorReading = { sensor: this.name, value: this.#scale(raw), at: Date.now() };
      this.#last = reading;
      this.emit('reading', reading);
      const threshold = this.#options.threshold ?? 0;
      const previous = this.#reported;
      if (previous === undefined || (reading.value !== previous && Math.abs(reading.value - previous) >= threshold)) {
        this.#reported = reading.value;
        this.emit('change', reading);
      }
      return reading;
    } catch (error) {
      this.emit('error', error);
      throw error;
    } finally {
      this.#busy = false;
    }
  }

  close(): void {
    this.stop();
    this.removeAllListeners();
  }
}
