/**
 * Tasmota's own discovery (Tasmota ≥ 9.1, `SetOption19 0`, the default):
 * retained JSON on `tasmota/discovery/<MAC>/config` describing the device
 * and on `tasmota/discovery/<MAC>/sensors` with a sample of its sensor
 * message. Keys as documented in tasmota/docs (pull request 1320, "Add Auto
 * discovery"): `dn` device name, `fn` friendly names, `hn` host name,
 * `mac`, `md` model, `sw` firmware version, `t` topic, `ft` FullTopic,
 * `tp` prefixes (cmnd, stat, tele), `rl` relay types (1 relay, 2 light,
 * 3 shutter), `swc` switch modes (-1 none), `swn` switch names, `so`
 * SetOptions, `onln`/`ofln` LWT payloads; `sn` the sensor sample.
 */
import { BoardcastError } from '@boardcast/core';
import { logSafe } from '@boardcast/core/server';
import { tasmota } from './profiles.js';
import type { TopicMap } from './topics.js';

export interface TasmotaDescription {
  readonly mac: string;
  readonly name: string;
  readonly model: string | undefined;
  readonly firmware: string | undefined;
  /** The device's `Topic`. */
  readonly topic: string;
  readonly topics: TopicMap;
  /** Topic prefixes only this device publishes and listens under: `<cmnd>/<t>/`, `<stat>/<t>/`, `<tele>/<t>/`. */
  readonly bases: readonly string[];
  readonly skipped: readonly { readonly component: string; readonly reason: string }[];
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A topic level Tasmota would accept as `Topic`, and nothing that could widen a subscription. */
function topicPart(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '' || value.length > 64 || /[+#/\0]/.test(value)) {
    throw new BoardcastError('invalid_payload', `${what} ${logSafe(JSON.stringify(value), 40)} is not a topic level`);
  }
  return value;
}

/** Numeric leaves of the sensor sample (`{"AM2301":{"Temperature":21.5}}` → `AM2301.Temperature`). */
function sensorPaths(sample: Json, prefix = '', out: string[] = [], depth = 0): string[] {
  if (depth > 4 || out.length >= 64) return out;
  for (const [key, value] of Object.entries(sample)) {
    if (key === 'Time' || key.includes('.')) continue;
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof value === 'number' && Number.isFinite(value)) out.push(path);
    else if (isObject(value)) sensorPaths(value, path, out, depth + 1);
  }
  return out;
}

/**
 * Read a `config` payload (and the matching `sensors` payload, if any) of
 * the device whose discovery topic names `macInTopic`. Throws
 * `BoardcastError` `invalid_payload` for a payload that is not a Tasmota
 * discovery message or whose `mac` is not the topic's.
 */
export function describeTasmota(macInTopic: string, config: unknown, sensors: unknown): TasmotaDescription {
  if (!isObject(config)) throw new BoardcastError('invalid_payload', 'Tasmota discovery config is not a JSON object');
  const mac = typeof config.mac === 'string' ? config.mac.toUpperCase() : undefined;
  if (mac !== macInTopic.toUpperCase()) {
    throw new BoardcastError(
      'invalid_payload',
      `Tasmota discovery config for ${logSafe(macInTopic)} names mac ${logSafe(String(config.mac))}`,
    );
  }
  const topic = topicPart(config.t, 'Tasmota topic');
  const hostname = typeof config.hn === 'string' ? config.hn : topic;
  let fullTopic = typeof config.ft === 'string' ? config.ft : '%prefix%/%topic%/';
  fullTopic = fullTopic.replace('%hostname%', topicPart(hostname, 'Tasmota hostname')).replace('%id%', mac.slice(-6));
  const tp = Array.isArray(config.tp) ? config.tp : ['cmnd', 'stat', 'tele'];
  const cmnd = topicPart(tp[0], 'Tasmota prefix');
  const stat = topicPart(tp[1], 'Tasmota prefix');
  const tele = topicPart(tp[2], 'Tasmota prefix');
  const skipped: { component: string; reason: string }[] = [];

  const rl = Array.isArray(config.rl) ? config.rl.slice(0, 32) : [];
  // Tasmota numbers POWER<n> over relays and lights together; one in all is plain POWER.
  const powered = rl.map((type, i) => ({ type, index: i + 1 })).filter((r) => r.type === 1 || r.type === 2);
  for (const r of rl.map((type, i) => ({ type, index: i + 1 }))) {
    if (r.type === 3)
      skipped.push({ component: `POWER${r.index}`, reason: 'a shutter is not a switchable output here' });
  }
  const relays: Record<string, number> = {};
  for (const r of powered) relays[powered.length === 1 && r.index === 1 ? 'POWER' : `POWER${r.index}`] = r.index;

  const swc = Array.isArray(config.swc) ? config.swc.slice(0, 28) : [];
  const detached = isObject(config.so) && Number(config.so['114']) === 1;
  const switches: Record<string, number> = {};
  swc.forEach((mode, i) => {
    if (typeof mode !== 'number' || mode === -1) return;
    if (!detached) {
      skipped.push({
        component: `Switch${i + 1}`,
        reason: 'switches attached to relays are not reported over MQTT (SetOption114 0)',
      });
      return;
    }
    switches[`Switch${i + 1}`] = i + 1;
  });

  const sample = isObject(sensors) && isObject(sensors.sn) ? sensors.sn : {};
  const sensorMap: Record<string, string> = {};
  for (const path of sensorPaths(sample)) sensorMap[path] = path;

  const online = typeof config.onln === 'string' ? config.onln : 'Online';
  const offline = typeof config.ofln === 'string' ? config.ofln : 'Offline';
  const map = tasmota(topic, {
    relays,
    switches,
    sensors: sensorMap,
    prefixes: { cmnd, stat, tele },
    fullTopic,
  });
  const topics: TopicMap = {
    ...map,
    availability: { topic: `${fullTopic.replace('%prefix%', tele).replace('%topic%', topic)}LWT`, online, offline },
  };
  const friendly = Array.isArray(config.fn) && typeof config.fn[0] === 'string' ? config.fn[0] : undefined;
  return {
    mac,
    name: friendly ?? (typeof config.dn === 'string' ? config.dn : topic),
    model: typeof config.md === 'string' ? config.md : undefined,
    firmware: typeof config.sw === 'string' ? config.sw : undefined,
    topic,
    topics,
    bases: [cmnd, stat, tele].map((p) => fullTopic.replace('%prefix%', p).replace('%topic%', topic)),
    skipped,
  };
}
