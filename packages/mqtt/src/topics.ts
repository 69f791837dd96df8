import type { Level, Pin } from '@boardcast/board-adapter-gpio';
import { BoardcastError } from '@boardcast/core';
import { logSafe } from '@boardcast/core/server';

/**
 * Turns one MQTT message into a value, or `undefined` when the message is not
 * about this pin or sensor (a Tasmota `RESULT` that reports a dimmer, a
 * `SENSOR` message without this sensor). Throws a `BoardcastError`
 * (`invalid_payload`) when the message is about it but cannot be read; the
 * board reports that as an `error` event and keeps the last good value.
 */
export type Decode<T> = (payload: string, topic: string) => T | undefined;

/** A topic whose messages report a value, and how to read them. */
export interface StateSource<T> {
  readonly topic: string;
  /** Default: levels from `ON`/`OFF`, numbers from a plain number or `path` in JSON. */
  readonly decode?: Decode<T>;
}

/** An output the device switches on request: a relay, an LED, an ESPHome `switch`. */
export interface OutputTopics {
  readonly pin: Pin;
  /** Where a request is published. */
  readonly command: string;
  /** Command payloads for level 1 and level 0 (default `ON` / `OFF`, as Tasmota and ESPHome expect). */
  readonly payloads?: { readonly on: string; readonly off: string };
  /**
   * Where the device reports the level it actually has. A write resolves
   * only when one of these reports the requested level; the board's state is
   * always the last report, never the request. Default decode: `ON`/`OFF`,
   * `on`/`off`, `1`/`0`, `true`/`false`.
   */
  readonly state: string | StateSource<Level> | readonly (string | StateSource<Level>)[];
  /** Published to make the device report its level (Tasmota: empty payload on `cmnd/<t>/POWER`). */
  readonly query?: { readonly topic: string; readonly payload: string };
  /** Human name (capabilities). */
  readonly name?: string;
}

/** An input the device reports: a Tasmota switch, an ESPHome `binary_sensor`. */
export interface InputTopics {
  readonly pin: Pin;
  readonly state: string | StateSource<Level> | readonly (string | StateSource<Level>)[];
  readonly name?: string;
}

/** A sensor the device reports: a number on its own topic, or one field of a JSON message. */
export interface SensorTopics {
  /** The name readings carry and `readSensor()` takes. */
  readonly name: string;
  readonly state: string | StateSource<number> | readonly (string | StateSource<number>)[];
  /**
   * Dot path into a JSON payload (`AM2301.Temperature`); without it the
   * payload is the number itself. A message without the path is not about
   * this sensor; a non-number at the path is `invalid_payload`.
   */
  readonly path?: string;
  /** Unit as the device reports it (`°C`, `%`); informational. */
  readonly unit?: string;
}

/** Availability, normally the device's last will: `online` payload → online, `offline` payload → offline. */
export interface AvailabilityTopic {
  readonly topic: string;
  /** Default `online`. */
  readonly online?: string;
  /** Default `offline`. */
  readonly offline?: string;
  /**
   * The word to compare with `online`/`offline`, read from the payload
   * (zigbee2mqtt: `{"state":"online"}`); `undefined` ignores the message.
   * Default: the payload itself.
   */
  readonly decode?: Decode<string>;
}

/** Everything a board needs to know about a device's topics. Profiles build one; any device can be described by hand. */
export interface TopicMap {
  readonly outputs?: readonly OutputTopics[];
  readonly inputs?: readonly InputTopics[];
  readonly sensors?: readonly SensorTopics[];
  /**
   * Without it the device counts as online whenever the broker connection
   * is up. Several topics (a zigbee2mqtt device: its own and the bridge's)
   * combine by `availabilityMode`.
   */
  readonly availability?: AvailabilityTopic | readonly AvailabilityTopic[];
  /**
   * How several availability topics combine (Home Assistant's
   * `availability_mode`): `latest` (default) — the last message decides;
   * `all` — online when every topic says online; `any` — online when one does.
   */
  readonly availabilityMode?: 'all' | 'any' | 'latest';
  /**
   * Published after every (re)subscribe once the device is available, to make
   * it report what it does not retain (Tasmota: `cmnd/<t>/STATUS` `10` for
   * switches and sensors, answered on `stat/<t>/STATUS10`). Outputs' own
   * `query` is sent as well.
   */
  readonly queries?: readonly QueryTopic[];
}

/** A request that makes the device report its state. */
export interface QueryTopic {
  readonly topic: string;
  readonly payload: string;
  /** Where the device answers; a resync waits for a message there (bounded by `resyncTimeoutMs`). */
  readonly response?: string;
}

const LEVELS: Readonly<Record<string, Level>> = {
  ON: 1,
  OFF: 0,
  on: 1,
  off: 0,
  On: 1,
  Off: 0,
  '1': 1,
  '0': 0,
  true: 1,
  false: 0,
};

/** A payload as an error message may quote it: short, and with controls and bidi overrides escaped (it reaches logs). */
function preview(payload: string): string {
  return logSafe(payload, 40);
}

/** `ON`/`OFF` (any common spelling), `1`/`0`, `true`/`false` → a level; anything else is `invalid_payload`. */
export function decodeLevel(payload: string, topic: string): Level {
  const text = payload.trim();
  // Own keys only: `toString` or `constructor` must not read a function off the prototype.
  const level = Object.hasOwn(LEVELS, text) ? LEVELS[text] : undefined;
  if (level === undefined) {
    throw new BoardcastError('invalid_payload', `"${preview(payload)}" on ${topic} is not ON/OFF`, {
      details: { topic },
    });
  }
  return level;
}

/** Parse JSON or throw `invalid_payload` naming the topic. */
export function parseJson(payload: string, topic: string): unknown {
  try {
    return JSON.parse(payload) as unknown;
  } catch (error) {
    throw new BoardcastError('invalid_payload', `"${preview(payload)}" on ${topic} is not JSON`, {
      cause: error,
      details: { topic },
    });
  }
}

/** The value at a dot path (`a.b.c`) of a parsed JSON value, or undefined. */
export function atPath(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/**
 * A plain decimal number as sensors publish it: optional sign, digits with
 * an optional fraction, optional exponent (`21.5`, `-3`, `.5`, `1e3`),
 * surrounding whitespace allowed. JavaScript's `Number()` also reads `0x10`
 * (16), `0b11`, `0o7`, `Infinity` and an empty string (0); no firmware means
 * those, so they are `invalid_payload`, never a reading.
 */
export const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A number from a plain decimal payload (`21.5`, see `DECIMAL`) or from `path` in a JSON payload. */
export function decodeNumber(path?: string): Decode<number> {
  return (payload, topic) => {
    let value: unknown;
    if (path === undefined) {
      const text = payload.trim();
      value = DECIMAL.test(text) ? Number(text) : Number.NaN;
    } else {
      value = atPath(parseJson(payload, topic), path);
      if (value === undefined) return undefined;
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new BoardcastError(
        'invalid_payload',
        `${path === undefined ? `"${preview(payload)}"` : `${path} in "${preview(payload)}"`} on ${topic} is not a number`,
        { details: { topic, path } },
      );
    }
    return value;
  };
}

/** Normalised sources of a pin or sensor. */
export function sources<T>(
  state: string | StateSource<T> | readonly (string | StateSource<T>)[],
  fallback: Decode<T>,
): { topic: string; decode: Decode<T> }[] {
  const list = (Array.isArray(state) ? state : [state]) as readonly (string | StateSource<T>)[];
  return list.map((s) =>
    typeof s === 'string' ? { topic: s, decode: fallback } : { topic: s.topic, decode: s.decode ?? fallback },
  );
}

/** MQTT topic filter match (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const part = f[i];
    if (part === '#') return true;
    if (i >= t.length) return false;
    if (part !== '+' && part !== t[i]) return false;
  }
  return f.length === t.length;
}
