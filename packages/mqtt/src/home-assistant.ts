/**
 * Home Assistant MQTT discovery payloads (as ESPHome, zigbee2mqtt, Tasmota's
 * old SetOption19 and many others publish them) turned into a topic map.
 * Source of the rules: https://www.home-assistant.io/integrations/mqtt/
 * ("MQTT Discovery": discovery topic, abbreviations, `~` base topic, device
 * based discovery with `dev`, `o` and `cmps`).
 */
import type { Level } from '@boardcast/board-adapter-gpio';
import { BoardcastError } from '@boardcast/core';
import { logSafe } from '@boardcast/core/server';
import type { AvailabilityTopic, Decode, InputTopics, OutputTopics, SensorTopics } from './topics.js';
import { DECIMAL } from './topics.js';
import { compileValueTemplate, type ValueTemplate } from './value-template.js';

/** Abbreviations of the options this module reads (the docs' list has more; others stay as they are). */
const ABBREVIATIONS: Readonly<Record<string, string>> = {
  avty: 'availability',
  avty_mode: 'availability_mode',
  avty_t: 'availability_topic',
  avty_tpl: 'availability_template',
  cmd_t: 'command_topic',
  cmd_tpl: 'command_template',
  cmps: 'components',
  dev: 'device',
  dev_cla: 'device_class',
  json_attr_t: 'json_attributes_topic',
  name: 'name',
  o: 'origin',
  obj_id: 'object_id',
  opt: 'optimistic',
  p: 'platform',
  pl_avail: 'payload_available',
  pl_not_avail: 'payload_not_available',
  pl_off: 'payload_off',
  pl_on: 'payload_on',
  stat_off: 'state_off',
  stat_on: 'state_on',
  stat_t: 'state_topic',
  stat_val_tpl: 'state_value_template',
  t: 'topic',
  uniq_id: 'unique_id',
  unit_of_meas: 'unit_of_measurement',
  val_tpl: 'value_template',
};

const DEVICE_ABBREVIATIONS: Readonly<Record<string, string>> = {
  cns: 'connections',
  ids: 'identifiers',
  mf: 'manufacturer',
  mdl: 'model',
  mdl_id: 'model_id',
  sw: 'sw_version',
  hw: 'hw_version',
  sn: 'serial_number',
  sa: 'suggested_area',
  cu: 'configuration_url',
};

const ORIGIN_ABBREVIATIONS: Readonly<Record<string, string>> = { sw: 'sw_version', url: 'support_url' };

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function expandKeys(value: Json, table: Readonly<Record<string, string>>): Json {
  const out: Json = Object.create(null) as Json;
  for (const [key, v] of Object.entries(value)) {
    const full = Object.hasOwn(table, key) ? (table[key] as string) : key;
    // The long form wins when a payload has both.
    if (full !== key && Object.hasOwn(value, full)) continue;
    out[full] = v;
  }
  return out;
}

/**
 * Expand abbreviations and the `~` base topic: a value of an option whose
 * name ends in `_topic` (or an availability entry's `topic`) that starts
 * or ends with `~` has it replaced by the `~` option.
 */
export function expandConfig(raw: Json, inheritedBase?: string): Json {
  const config = expandKeys(raw, ABBREVIATIONS);
  const base = typeof config['~'] === 'string' ? config['~'] : inheritedBase;
  const tilde = (v: unknown): unknown => {
    if (typeof v !== 'string' || base === undefined) return v;
    if (v.startsWith('~')) return base + v.slice(1);
    if (v.endsWith('~')) return v.slice(0, -1) + base;
    return v;
  };
  for (const key of Object.keys(config)) {
    if (key.endsWith('_topic')) config[key] = tilde(config[key]);
  }
  if (isObject(config.device)) config.device = expandKeys(config.device, DEVICE_ABBREVIATIONS);
  if (isObject(config.origin)) config.origin = expandKeys(config.origin, ORIGIN_ABBREVIATIONS);
  if (Array.isArray(config.availability)) {
    config.availability = config.availability.map((entry) => {
      if (!isObject(entry)) return entry;
      const e = expandKeys(entry, ABBREVIATIONS);
      e.topic = tilde(e.topic);
      return e;
    });
  }
  if (isObject(config.components)) {
    const components: Json = Object.create(null) as Json;
    for (const [id, c] of Object.entries(config.components)) {
      components[id] = isObject(c) ? expandConfig(c, base) : c;
    }
    config.components = components;
  }
  return config;
}

/** `<prefix>/<component>/[<node_id>/]<object_id>/config` → its parts, or undefined for another shape. */
export function parseDiscoveryTopic(
  prefix: string,
  topic: string,
): { component: string; nodeId: string | undefined; objectId: string } | undefined {
  if (!topic.startsWith(`${prefix}/`) || !topic.endsWith('/config')) return undefined;
  const parts = topic.slice(prefix.length + 1, -'/config'.length).split('/');
  // The docs: node and object ids consist of [a-zA-Z0-9_-] only.
  const id = /^[A-Za-z0-9_-]+$/;
  if (parts.length === 2 && parts.every((p) => id.test(p))) {
    return { component: parts[0] as string, nodeId: undefined, objectId: parts[1] as string };
  }
  if (parts.length === 3 && parts.every((p) => id.test(p))) {
    return { component: parts[0] as string, nodeId: parts[1], objectId: parts[2] as string };
  }
  return undefined;
}

/** One component of a device, as the board will use it. */
export type HaEntity =
  | { readonly kind: 'output'; readonly output: OutputTopics }
  | { readonly kind: 'input'; readonly input: InputTopics }
  | { readonly kind: 'sensor'; readonly sensor: SensorTopics };

/** Platforms that become pins or sensors; every other platform is skipped with a reason. */
export const SUPPORTED_PLATFORMS = ['switch', 'light', 'binary_sensor', 'sensor'] as const;

function str(value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  // HA coerces payload options to strings; a JSON boolean reads as Python prints it.
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return value;
  throw new BoardcastError('invalid_payload', `option value ${logSafe(JSON.stringify(value), 40)} is not a string`);
}

function template(config: Json, key: string): ValueTemplate | undefined {
  const t = config[key];
  if (t === undefined) return undefined;
  if (typeof t !== 'string') throw new BoardcastError('invalid_payload', `${key} is not a string`);
  return compileValueTemplate(t);
}

function levelDecode(on: string, off: string, tpl: ValueTemplate | undefined): Decode<Level> {
  return (payload, topic) => {
    const text = tpl ? tpl(payload, topic) : payload;
    if (text === undefined) return undefined;
    if (text === on) return 1;
    if (text === off) return 0;
    // HA's own "unknown" states, and anything the device reports about something else.
    if (text === '' || text === 'None' || text === 'unknown' || text === 'unavailable') return undefined;
    throw new BoardcastError('invalid_payload', `"${logSafe(text, 40)}" on ${topic} is neither "${on}" nor "${off}"`, {
      details: { topic },
    });
  };
}

function numberDecode(tpl: ValueTemplate | undefined): Decode<number> {
  return (payload, topic) => {
    const text = (tpl ? tpl(payload, topic) : payload)?.trim();
    if (text === undefined || text === '' || text === 'None' || text === 'unknown' || text === 'unavailable') {
      return undefined;
    }
    const value = DECIMAL.test(text) ? Number(text) : Number.NaN;
    if (!Number.isFinite(value)) {
      throw new BoardcastError('invalid_payload', `"${logSafe(text, 40)}" on ${topic} is not a number`, {
        details: { topic },
      });
    }
    return value;
  };
}

/**
 * One expanded component config → what the board needs, or a thrown
 * `BoardcastError` (`unsupported` for a platform or option outside what a
 * board can do, `invalid_payload` for a malformed config) naming why.
 */
export function entityOf(platform: string, key: string, config: Json): HaEntity {
  const stateTopic = config.state_topic;
  const name = typeof config.name === 'string' ? config.name : key;
  if (stateTopic !== undefined && typeof stateTopic !== 'string') {
    throw new BoardcastError('invalid_payload', 'state_topic is not a string');
  }
  switch (platform) {
    case 'switch':
    case 'light': {
      if (typeof config.command_topic !== 'string') throw new BoardcastError('invalid_payload', 'no command_topic');
      if (config.command_template !== undefined) {
        throw new BoardcastError('unsupported', 'command_template is not supported (Jinja)');
      }
      if (stateTopic === undefined) {
        throw new BoardcastError(
          'unsupported',
          'no state_topic: an optimistic entity cannot confirm a write (boardcast resolves writes on the reported state)',
        );
      }
      const command = config.command_topic;
      const output = (payloads: { on: string; off: string }, decode: ReturnType<typeof levelDecode>): HaEntity => ({
        kind: 'output',
        output: { pin: key, name, command, payloads, state: { topic: stateTopic, decode } },
      });
      if (platform === 'light' && config.schema === 'json') {
        // JSON schema (zigbee2mqtt): {"state":"ON"} both ways.
        return output(
          { on: '{"state":"ON"}', off: '{"state":"OFF"}' },
          levelDecode('ON', 'OFF', compileValueTemplate('{{ value_json.state }}')),
        );
      }
      if (
        platform === 'light' &&
        config.schema !== undefined &&
        config.schema !== 'default' &&
        config.schema !== 'basic'
      ) {
        throw new BoardcastError('unsupported', `light schema "${logSafe(String(config.schema))}" is not supported`);
      }
      const on = str(config.payload_on, 'ON');
      const off = str(config.payload_off, 'OFF');
      const stateOn = str(config.state_on, on);
      const stateOff = str(config.state_off, off);
      const tpl = template(config, platform === 'light' ? 'state_value_template' : 'value_template');
      return output({ on, off }, levelDecode(stateOn, stateOff, tpl));
    }
    case 'binary_sensor': {
      if (stateTopic === undefined) throw new BoardcastError('invalid_payload', 'no state_topic');
      const decode = levelDecode(
        str(config.payload_on, 'ON'),
        str(config.payload_off, 'OFF'),
        template(config, 'value_template'),
      );
      return { kind: 'input', input: { pin: key, name, state: { topic: stateTopic, decode } } };
    }
    case 'sensor': {
      if (stateTopic === undefined) throw new BoardcastError('invalid_payload', 'no state_topic');
      const deviceClass = config.device_class;
      if (deviceClass === 'enum' || deviceClass === 'timestamp' || deviceClass === 'date') {
        throw new BoardcastError('unsupported', `a ${deviceClass} sensor is not a number`);
      }
      const unit = typeof config.unit_of_measurement === 'string' ? config.unit_of_measurement : undefined;
      return {
        kind: 'sensor',
        sensor: {
          name: key,
          state: { topic: stateTopic, decode: numberDecode(template(config, 'value_template')) },
          ...(unit === undefined ? {} : { unit }),
        },
      };
    }
    default:
      throw new BoardcastError(
        'unsupported',
        `platform "${logSafe(platform)}" is not one of ${SUPPORTED_PLATFORMS.join(', ')}`,
      );
  }
}

/**
 * Availability of an expanded config: `availability_topic` with
 * `payload_available`/`payload_not_available` (defaults `online`/`offline`),
 * or an `availability` list (each with its `value_template`) and
 * `availability_mode` (`latest` by default, `all`, `any`).
 */
export function availabilityOf(
  config: Json,
): { topics: AvailabilityTopic[]; mode: 'all' | 'any' | 'latest' } | undefined {
  const entries: Json[] = [];
  if (typeof config.availability_topic === 'string') {
    entries.push({
      topic: config.availability_topic,
      payload_available: config.payload_available,
      payload_not_available: config.payload_not_available,
      value_template: config.availability_template,
    });
  }
  if (Array.isArray(config.availability)) {
    for (const entry of config.availability) if (isObject(entry)) entries.push(entry);
  }
  if (entries.length === 0) return undefined;
  const topics = entries.map((e): AvailabilityTopic => {
    if (typeof e.topic !== 'string') throw new BoardcastError('invalid_payload', 'an availability entry has no topic');
    const tpl = typeof e.value_template === 'string' ? compileValueTemplate(e.value_template) : undefined;
    return {
      topic: e.topic,
      online: str(e.payload_available, 'online'),
      offline: str(e.payload_not_available, 'offline'),
      ...(tpl ? { decode: (payload: string, topic: string) => tpl(payload, topic) } : {}),
    };
  });
  const mode = config.availability_mode;
  return { topics, mode: mode === 'all' || mode === 'any' ? mode : 'latest' };
}
