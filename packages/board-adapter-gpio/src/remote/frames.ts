import { BoardcastError, type ErrorBody } from '@boardcast/core';
import { parseJsonStrict } from '@boardcast/core/wire';
import { isLevel, isPinMode, type Level, type Pin, type PinCapability, type PinMode } from '../board.js';

/** WebSocket subprotocol of the board link. */
export const BOARD_PROTOCOL = 'boardcast-board.v1';

export interface HelloFrame {
  readonly type: 'hello';
  readonly id: string;
  readonly firmware: string;
  readonly pins: readonly (PinCapability & { readonly mode?: PinMode | undefined })[];
  readonly sensors: readonly string[];
}

/** Frames a board sends. */
export type BoardFrame =
  | HelloFrame
  | { readonly type: 'result'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'result'; readonly id: number; readonly ok: false; readonly error: ErrorBody['error'] }
  | { readonly type: 'edge'; readonly pin: Pin; readonly value: Level }
  | { readonly type: 'reading'; readonly sensor: string; readonly value: number }
  | { readonly type: 'ping'; readonly t?: PingToken }
  | { readonly type: 'pong'; readonly t?: PingToken };

/**
 * The `t` a ping carries, echoed in the pong. Only a number or a short string
 * (≤64 chars) is echoed back: a board cannot make the server send it large
 * frames by pinging with a large `t`.
 */
export type PingToken = number | string;

/**
 * Requests the server sends; each is answered by a `result` with the same `id`.
 * On the wire each also carries `id` and `deadline` (the server's
 * `performance.now()` in ms after which the agent must not execute it and
 * answers `timeout` instead; see `ServerClockFrame`).
 */
export type BoardRequest =
  | { readonly type: 'mode'; readonly pin: Pin; readonly mode: PinMode; readonly initial?: Level }
  | { readonly type: 'write'; readonly pin: Pin; readonly value: Level }
  | { readonly type: 'read'; readonly pin: Pin }
  | { readonly type: 'analog'; readonly pin: Pin }
  | { readonly type: 'sensor'; readonly name: string }
  | { readonly type: 'watch'; readonly pin: Pin; readonly edge: 'both'; readonly debounceMs: number }
  | { readonly type: 'unwatch'; readonly pin: Pin }
  | { readonly type: 'snapshot' };

/** What a `snapshot` request resolves to. */
export interface BoardSnapshot {
  readonly pins: Readonly<Record<string, Level>>;
  readonly analog: Readonly<Record<string, number>>;
  readonly sensors: Readonly<Record<string, number>>;
}

export type BoardDecodeResult =
  | { readonly ok: true; readonly frame: BoardFrame }
  | { readonly ok: false; readonly error: BoardcastError };

const BOARD_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const invalid = (message: string) => new BoardcastError('invalid_payload', message);

// C0/C1 controls and line/paragraph separators: a board's strings end up in
// log lines and pages, where they could forge lines or hide text.
const CONTROL = /[\p{Cc}\u2028\u2029]/u;

function isPin(value: unknown): value is Pin {
  return (
    (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) ||
    (typeof value === 'string' && value.length > 0 && value.length <= 64 && !CONTROL.test(value))
  );
}

function isShortString(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max && !CONTROL.test(value);
}

function decodeHello(record: Record<string, unknown>): HelloFrame | BoardcastError {
  if (typeof record.id !== 'string' || !BOARD_ID.test(record.id)) {
    return invalid('hello needs an "id" of 1-64 letters, digits, "_", ".", ":" or "-"');
  }
  const firmware = record.firmware ?? '';
  if (!isShortString(firmware, 200)) {
    return invalid('hello "firmware" must be a string (≤200 chars, no control characters)');
  }
  if (!Array.isArray(record.pins) || record.pins.length > 256) return invalid('hello "pins" must be an array (≤256)');
  const pins: Array<PinCapability & { mode?: PinMode | undefined }> = [];
  for (const raw of record.pins as unknown[]) {
    if (raw === null || typeof raw !== 'object') return invalid('each hello pin must be an object');
    const p = raw as Record<string, unknown>;
    if (!isPin(p.pin)) return invalid('hello pin needs a "pin" (integer ≥0 or name)');
    if (!Array.isArray(p.modes) || !p.modes.every(isPinMode)) {
      return invalid(
        `hello pin ${String(p.pin)} needs "modes" from input, input_pullup, input_pulldown, output, analog`,
      );
    }
    if (p.mode !== undefined && p.mode !== null && !isPinMode(p.mode))
      return invalid(`hello pin ${p.pin} has a bad mode`);
    if (p.name !== undefined && !isShortString(p.name, 64)) return invalid(`hello pin ${p.pin} has a bad name`);
    pins.push({
      pin: p.pin,
      modes: p.modes as PinMode[],
      mode: isPinMode(p.mode) ? p.mode : undefined,
      name: p.name as string | undefined,
    });
  }
  const sensors = record.sensors ?? [];
  if (!Array.isArray(sensors) || sensors.length > 64 || !sensors.every((s) => isShortString(s, 64))) {
    return invalid('hello "sensors" must be an array of names');
  }
  return { type: 'hello', id: record.id, firmware, pins, sensors: sensors as string[] };
}

/** Strict decoder for a board's frames. Never throws. */
export function decodeBoardFrame(text: string): BoardDecodeResult {
  let value: unknown;
  try {
    value = parseJsonStrict(text);
  } catch (error) {
    return { ok: false, error: error instanceof BoardcastError ? error : invalid('frame is not valid JSON') };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, error: invalid('frame must be a JSON object') };
  }
  const r = value as Record<string, unknown>;
  switch (r.type) {
    case 'hello': {
      const hello = decodeHello(r);
      return hello instanceof BoardcastError ? { ok: false, error: hello } : { ok: true, frame: hello };
    }
    case 'result': {
      if (typeof r.id !== 'number' || !Number.isSafeInteger(r.id))
        return { ok: false, error: invalid('result needs an integer "id"') };
      if (r.ok === true) return { ok: true, frame: { type: 'result', id: r.id, ok: true, value: r.value } };
      return {
        ok: true,
        frame: { type: 'result', id: r.id, ok: false, error: BoardcastError.fromJSON(r.error).toJSON() },
      };
    }
    case 'edge':
      if (!isPin(r.pin) || !isLevel(r.value))
        return { ok: false, error: invalid('edge needs "pin" and "value" 0 or 1') };
      return { ok: true, frame: { type: 'edge', pin: r.pin, value: r.value } };
    case 'reading':
      if (!isShortString(r.sensor, 64) || typeof r.value !== 'number' || !Number.isFinite(r.value)) {
        return { ok: false, error: invalid('reading needs "sensor" and a finite "value"') };
      }
      return { ok: true, frame: { type: 'reading', sensor: r.sensor, value: r.value } };
    case 'ping':
    case 'pong': {
      // A large or odd `t` is not an error, it is just not echoed.
      const t = pingToken(r.t);
      return { ok: true, frame: t === undefined ? { type: r.type } : { type: r.type, t } };
    }
  }
  return {
    ok: false,
    error: invalid(typeof r.type === 'string' ? `unknown frame type "${r.type.slice(0, 32)}"` : 'frame needs a "type"'),
  };
}

function pingToken(value: unknown): PingToken | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.length <= 64) return value;
  return undefined;
}

/**
 * Frames from the server that carry its clock: `welcome`, `ping`, `pong`.
 * `now` is the server's `performance.now()` in ms (monotonic, arbitrary
 * origin); an agent keeps the largest `now - local_ticks` it has seen as its
 * estimate of the offset (a delayed frame can only make the estimate lag,
 * never lead) and compares a request's `deadline` with `local_ticks + offset`.
 */
export interface ServerClockFrame {
  readonly type: 'welcome' | 'ping' | 'pong';
  readonly now: number;
}

export function encodeBoardError(error: BoardcastError): string {
  return JSON.stringify({ type: 'error', error: error.toJSON() });
}
