import type { Level, Pin } from '@boardcast/board-adapter-gpio';
import { BoardcastError } from '@boardcast/core';
import {
  atPath,
  type Decode,
  decodeLevel,
  decodeNumber,
  type InputTopics,
  type OutputTopics,
  parseJson,
  type SensorTopics,
  type StateSource,
  type TopicMap,
} from './topics.js';

/** A count (`2` → default names) or an explicit `{ pin: index-or-object-id }` map. */
type PinSpec<T> = number | Readonly<Record<string, T>>;

/** `"5"` → `5`, so a map key can name a GPIO-style number pin the way `Led(board, 5)` does. */
function pinOf(key: string): Pin {
  return /^(0|[1-9]\d*)$/.test(key) ? Number(key) : key;
}

function checkTopicPart(value: string, what: string): void {
  if (typeof value !== 'string' || value === '' || /[+#\0]/.test(value)) {
    throw new BoardcastError('invalid_payload', `${what} must be a non-empty MQTT topic level without + or #`);
  }
}

// ---------------------------------------------------------------- Tasmota

export interface TasmotaOptions {
  /**
   * Relays: a count (pins `POWER` for one relay, `POWER1`…`POWER<n>` for
   * more), or `{ pin: relayIndex }` to give them your own pin names
   * (`{ 5: 1 }` makes relay 1 pin 5). Default 1.
   */
  readonly relays?: PinSpec<number>;
  /**
   * Switch inputs reported by the device (pins `Switch<n>`, or `{ pin: index }`).
   * Tasmota reports switches over MQTT only when they are detached from the
   * relays (`SetOption114 1`) or have a `SwitchTopic`: then it publishes
   * `stat/<t>/RESULT {"Switch1":{"Action":"ON"}}` and lists `"Switch1":"ON"`
   * in `tele/<t>/SENSOR` and `STATUS 10`.
   */
  readonly switches?: PinSpec<number>;
  /** Sensors by name → path inside `tele/<t>/SENSOR` (`{ temperature: 'AM2301.Temperature' }`). */
  readonly sensors?: Readonly<Record<string, string>>;
  /** Tasmota's `%prefix%` values, if you changed them (defaults `cmnd`, `stat`, `tele`). */
  readonly prefixes?: { readonly cmnd?: string; readonly stat?: string; readonly tele?: string };
  /**
   * The device's `FullTopic`, if you changed it (default `%prefix%/%topic%/`):
   * `%prefix%` and `%topic%` are filled in; fill in `%hostname%` and `%id%`
   * yourself. Must end with `/` and contain `%prefix%`.
   */
  readonly fullTopic?: string;
}

/** A key of Tasmota's JSON (`POWER1`, `Switch1`) read as a level, in any of the JSON messages it appears in. */
function tasmotaJsonLevel(keys: readonly string[], nested?: (value: unknown) => unknown): Decode<Level> {
  return (payload, topic) => {
    const json = parseJson(payload, topic);
    for (const key of keys) {
      let value = atPath(json, key);
      if (value === undefined) continue;
      if (nested) value = nested(value);
      if (typeof value !== 'string') {
        throw new BoardcastError('invalid_payload', `${key} on ${topic} is not ON/OFF`, { details: { topic } });
      }
      return decodeLevel(value, topic);
    }
    return undefined;
  };
}

/**
 * The topic map of a Tasmota device with topic `topic` (its `Topic`
 * setting, e.g. `tasmota_1A2B3C`) and the default FullTopic
 * `%prefix%/%topic%/`:
 *
 * | what | topic | payload |
 * |---|---|---|
 * | relay n command | `cmnd/<t>/POWER<n>` (`POWER` for relay 1) | `ON` / `OFF`; empty asks for the state |
 * | relay n state | `stat/<t>/POWER<n>`, `stat/<t>/RESULT`, `tele/<t>/STATE` | `ON`/`OFF`; JSON `{"POWER1":"ON"}` |
 * | switch n | `stat/<t>/RESULT`, `tele/<t>/SENSOR`, `stat/<t>/STATUS10` | `{"Switch1":{"Action":"ON"}}`, `{"Switch1":"ON"}` |
 * | sensors | `tele/<t>/SENSOR`, `stat/<t>/STATUS10` | JSON, read at the path you give |
 * | availability | `tele/<t>/LWT` (retained last will) | `Online` / `Offline` |
 *
 * After every (re)connect the board asks for relay states (empty `POWER<n>`)
 * and, with switches or sensors, for `STATUS 10`, because Tasmota does not
 * retain them by default (`PowerRetain 0`).
 */
export function tasmota(topic: string, options: TasmotaOptions = {}): TopicMap {
  checkTopicPart(topic, 'Tasmota topic');
  const cmnd = options.prefixes?.cmnd ?? 'cmnd';
  const stat = options.prefixes?.stat ?? 'stat';
  const tele = options.prefixes?.tele ?? 'tele';
  const fullTopic = options.fullTopic ?? '%prefix%/%topic%/';
  if (
    typeof fullTopic !== 'string' ||
    !fullTopic.includes('%prefix%') ||
    !fullTopic.endsWith('/') ||
    /[+#\0]/.test(fullTopic)
  ) {
    throw new BoardcastError(
      'invalid_payload',
      'Tasmota fullTopic must contain %prefix%, end with / and have no + or #',
    );
  }
  // Tasmota replaces each token once, in this order.
  const base = (prefix: string) => fullTopic.replace('%prefix%', prefix).replace('%topic%', topic);
  const cmndT = base(cmnd);
  const statT = base(stat);
  const teleT = base(tele);
  const relays = options.relays ?? 1;
  const relayPins: [Pin, number][] =
    typeof relays === 'number'
      ? Array.from({ length: relays }, (_, i) => [relays === 1 ? 'POWER' : `POWER${i + 1}`, i + 1])
      : Object.entries(relays).map(([key, index]) => [pinOf(key), index]);
  const outputs: OutputTopics[] = relayPins.map(([pin, index]) => {
    if (!Number.isInteger(index) || index < 1 || index > 32) {
      throw new BoardcastError('invalid_payload', `Tasmota relay index must be 1…32, got ${String(index)}`);
    }
    // A one-relay device answers POWER1 as POWER; a many-relay device always numbers them.
    const keys = index === 1 ? ['POWER', 'POWER1'] : [`POWER${index}`];
    const json = tasmotaJsonLevel(keys);
    const state: StateSource<Level>[] = [
      ...keys.map((key) => ({ topic: `${statT}${key}` })),
      { topic: `${statT}RESULT`, decode: json },
      { topic: `${teleT}STATE`, decode: json },
    ];
    const command = `${cmndT}${index === 1 ? 'POWER' : `POWER${index}`}`;
    return { pin, command, state, query: { topic: command, payload: '' }, name: `Relay ${index}` };
  });

  const switches = options.switches ?? 0;
  const switchPins: [Pin, number][] =
    typeof switches === 'number'
      ? Array.from({ length: switches }, (_, i) => [`Switch${i + 1}`, i + 1])
      : Object.entries(switches).map(([key, index]) => [pinOf(key), index]);
  const inputs: InputTopics[] = switchPins.map(([pin, index]) => {
    const key = `Switch${index}`;
    return {
      pin,
      name: key,
      state: [
        {
          topic: `${statT}RESULT`,
          decode: tasmotaJsonLevel([key], (v) => (v !== null && typeof v === 'object' ? atPath(v, 'Action') : v)),
        },
        { topic: `${teleT}SENSOR`, decode: tasmotaJsonLevel([key]) },
        { topic: `${statT}STATUS10`, decode: tasmotaJsonLevel([`StatusSNS.${key}`]) },
      ],
    };
  });

  const sensors: SensorTopics[] = Object.entries(options.sensors ?? {}).map(([name, path]) => ({
    name,
    path,
    state: [
      { topic: `${teleT}SENSOR`, decode: decodeNumber(path) },
      { topic: `${statT}STATUS10`, decode: decodeNumber(`StatusSNS.${path}`) },
    ],
  }));

  return {
    outputs,
    inputs,
    sensors,
    availability: { topic: `${teleT}LWT`, online: 'Online', offline: 'Offline' },
    queries:
      inputs.length + sensors.length > 0
        ? [{ topic: `${cmndT}STATUS`, payload: '10', response: `${statT}STATUS10` }]
        : [],
  };
}

// ---------------------------------------------------------------- ESPHome

/** Object ids (`['relay']` → pin `relay`), or `{ pin: objectId }` to name pins yourself. */
type ObjectIds = readonly string[] | Readonly<Record<string, string>>;

export interface EsphomeOptions {
  /** `switch` components by object id. */
  readonly switches?: ObjectIds;
  /** `binary_sensor` components by object id. */
  readonly binarySensors?: ObjectIds;
  /** `sensor` components by object id (readings are named by the id, or by the map's key). */
  readonly sensors?: ObjectIds;
}

function entries(ids: ObjectIds | undefined): [string, string][] {
  if (!ids) return [];
  if (Array.isArray(ids)) return (ids as readonly string[]).map((id) => [id, id]);
  return Object.entries(ids as Readonly<Record<string, string>>);
}

/**
 * The topic map of an ESPHome node with the `mqtt:` component and topic
 * prefix `prefix` (its `topic_prefix`, by default the node name):
 *
 * | what | topic | payload |
 * |---|---|---|
 * | switch command | `<prefix>/switch/<id>/command` | `ON` / `OFF` |
 * | switch state | `<prefix>/switch/<id>/state` (retained) | `ON` / `OFF` |
 * | binary sensor | `<prefix>/binary_sensor/<id>/state` (retained) | `ON` / `OFF` |
 * | sensor | `<prefix>/sensor/<id>/state` (retained) | a number, e.g. `21.5` |
 * | availability | `<prefix>/status` (birth + retained last will) | `online` / `offline` |
 *
 * ESPHome retains states, so the initial state arrives with the subscription.
 */
export function esphome(prefix: string, options: EsphomeOptions = {}): TopicMap {
  if (typeof prefix !== 'string' || prefix === '' || /[+#\0]/.test(prefix)) {
    throw new BoardcastError('invalid_payload', 'ESPHome topic prefix must be a topic without + or #');
  }
  for (const [, id] of [...entries(options.switches), ...entries(options.binarySensors), ...entries(options.sensors)]) {
    checkTopicPart(id, 'ESPHome object id');
    if (id.includes('/'))
      throw new BoardcastError('invalid_payload', `ESPHome object id "${id}" must be one topic level`);
  }
  return {
    outputs: entries(options.switches).map(([key, id]) => ({
      pin: pinOf(key),
      name: id,
      command: `${prefix}/switch/${id}/command`,
      state: `${prefix}/switch/${id}/state`,
    })),
    inputs: entries(options.binarySensors).map(([key, id]) => ({
      pin: pinOf(key),
      name: id,
      state: `${prefix}/binary_sensor/${id}/state`,
    })),
    sensors: entries(options.sensors).map(([name, id]) => ({ name, state: `${prefix}/sensor/${id}/state` })),
    availability: { topic: `${prefix}/status`, online: 'online', offline: 'offline' },
  };
}
