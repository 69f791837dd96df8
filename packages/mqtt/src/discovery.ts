import { createHash } from 'node:crypto';
import type { BoardCapabilities, BoardStatus } from '@boardcast/board-adapter-gpio';
import { BoardcastError, Emitter } from '@boardcast/core';
import { logSafe } from '@boardcast/core/server';
import type { IPublishPacket, MqttClient } from 'mqtt';
import { type ConnectMqttOptions, connectMqtt } from './connect.js';
import { availabilityOf, entityOf, expandConfig, type HaEntity, parseDiscoveryTopic } from './home-assistant.js';
import { MqttBoard, type MqttBoardOptions } from './mqtt-board.js';
import { describeTasmota } from './tasmota-discovery.js';
import type { InputTopics, OutputTopics, SensorTopics, TopicMap } from './topics.js';

/** A part of a discovered device that did not become a pin or sensor, and why. */
export interface SkippedComponent {
  /** `<platform>/<object id>` (Home Assistant) or the Tasmota name (`Switch1`). */
  readonly component: string;
  readonly reason: string;
}

/** A device found on the broker. */
export interface DiscoveredDevice {
  /**
   * Stable id, valid as a hub channel id (`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`):
   * `tasmota:<MAC>` (`tasmota:A4CF121A2B3C`), or `ha:<identifier>` from the
   * Home Assistant device's first identifier (else its first connection,
   * else the entity's `unique_id`, else `<node_id>_<object_id>`). Characters
   * outside the channel alphabet become `_`; an identifier that needed that,
   * or is longer than 96 characters, gets `-<8 hex digits of its SHA-256>`,
   * so two identifiers never map to one id.
   */
  readonly id: string;
  /** Which discovery found it. */
  readonly kind: 'tasmota' | 'homeassistant';
  /** Friendly name (Tasmota `FriendlyName1`, Home Assistant `device.name`). */
  readonly name: string;
  /** Firmware version as the device states it (Tasmota `sw`, Home Assistant `device.sw_version`). */
  readonly firmware: string | undefined;
  readonly model: string | undefined;
  readonly manufacturer: string | undefined;
  /** The board's pins and sensors. */
  readonly capabilities: BoardCapabilities;
  /** The topic map the board was made from: enough to make another `MqttBoard` yourself. */
  readonly topics: TopicMap;
  /** A board on the discovery's client, ready to bind (`bindLed`, `Led`, `Sensor` …); closed when the device goes. */
  readonly board: MqttBoard;
  /** Components that did not become pins or sensors (unsupported platform, refused command topic …). */
  readonly skipped: readonly SkippedComponent[];
}

export interface DiscoveryOptions {
  /** Home Assistant discovery prefix (default `homeassistant`); `false` turns it off. */
  readonly homeAssistantPrefix?: string | false;
  /** Tasmota discovery prefix (default `tasmota/discovery`); `false` turns it off. */
  readonly tasmotaPrefix?: string | false;
  /**
   * Devices kept at once (default 256). Configs of further devices are
   * refused (`too_many_clients`, reported once until a device goes).
   */
  readonly maxDevices?: number;
  /** Components per device (default 64); further ones are skipped. */
  readonly maxComponents?: number;
  /** Discovery messages larger than this are refused (default 65536 bytes). */
  readonly maxPayloadBytes?: number;
  /**
   * A device publishes one config per component, one after the other; the
   * device is announced (or updated) once no config of it arrived for this
   * long (default 200 ms).
   */
  readonly settleMs?: number;
  /**
   * An extra policy on command topics, after the built-in ones (see the
   * README): return `false` to refuse `topic` for `device`.
   */
  readonly allowCommandTopic?: (topic: string, device: { readonly id: string; readonly kind: string }) => boolean;
  /** Options of every board made (timeouts, QoS …). */
  readonly board?: Omit<MqttBoardOptions, 'id' | 'topics' | 'client' | 'url' | 'mqtt' | 'maximumPacketSize'>;
  /** With a URL: passed to `connectMqtt` (credentials, TLS, `protocolVersion`, `maximumPacketSize`). */
  readonly mqtt?: ConnectMqttOptions;
}

export type DiscoveryEvents = {
  /** A device appeared, or its description changed (same id; the previous board is closed). */
  device: (device: DiscoveredDevice) => void;
  /** A device's board went online or offline (its availability topic, its last will). */
  status: (id: string, status: BoardStatus) => void;
  /** A device's discovery config was removed (empty retained payload), or it was refused after the fact. */
  removed: (id: string) => void;
  /** A refused or malformed discovery message, a refused component, or a board's error; `id` when it concerns a device. */
  error: (error: unknown, id?: string) => void;
};

export interface Discovery extends Emitter<DiscoveryEvents> {
  /** Devices known now, by id. */
  readonly devices: ReadonlyMap<string, DiscoveredDevice>;
  /** Settles when the discovery topics are subscribed. */
  readonly ready: Promise<void>;
  /** Close every board, unsubscribe, and end the client when the discovery made it. */
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

/** One Home Assistant discovery topic's content, expanded. */
interface HaRecord {
  readonly deviceKey: string;
  readonly raw: string;
  readonly device: Json | undefined;
  readonly origin: Json | undefined;
  readonly components: readonly { readonly platform: string; readonly key: string; readonly config: Json }[];
}

interface Entry {
  readonly id: string;
  readonly kind: 'tasmota' | 'homeassistant';
  /** HA: discovery topic → record. */
  readonly ha: Map<string, HaRecord>;
  /** Tasmota: the retained config and sensors payloads. */
  tasmota: { mac: string; config?: unknown; sensors?: unknown } | undefined;
  /**
   * Topic prefixes this device claims (no other device may command under them),
   * worked out from its configs when they arrive, not when it is built, so a
   * claim counts from the moment the broker delivers it.
   */
  bases: readonly string[];
  /**
   * HA discovery topic → the claims of a config the per-device topic cap
   * (maxComponents) kept out of the board: it still claims, else configs
   * joining the device's id could push its switch out and its claim with it.
   */
  overflow: Map<string, string[]>;
  /** A Tasmota with the default FullTopic and prefixes: its bases are `cmnd/<t>/`, `stat/<t>/`, `tele/<t>/` (see #precedes). */
  standard: boolean;
  /** Ids of the devices whose bases refused one of this device's command topics at its last build. */
  blockedBy: Set<string>;
  signature: string;
  device: DiscoveredDevice | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const CHANNEL_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** At most one resend of every retained config per this many ms for places that freed up (#offerPlaces). */
const OFFER_GAP_MS = 1000;

/** A stable channel-safe id for `raw` under `prefix` (see `DiscoveredDevice.id`). */
export function deviceId(prefix: 'ha' | 'tasmota', raw: string): string {
  const clean = raw.replace(/[^A-Za-z0-9_.:-]/g, '_');
  const id = `${prefix}:${clean}`;
  if (clean === raw && raw.length <= 96 && CHANNEL_ID.test(id)) return id;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
  return `${prefix}:${clean.slice(0, 96)}-${hash}`;
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A topic the board may subscribe or publish to: no wildcard could widen what it hears or where it writes. */
function plainTopic(topic: unknown): topic is string {
  return typeof topic === 'string' && topic !== '' && topic.length <= 1024 && !/[+#\0]/.test(topic);
}

/** `topic` lies under `base` (a topic prefix ending in `/`, or a topic of which `topic` is a sub-level). */
function under(topic: string, base: string): boolean {
  const b = base.endsWith('/') ? base : `${base}/`;
  return topic.startsWith(b);
}

/** `wanted`, else `fallback`, else `fallback.2`, `.3` …: never one already in `taken` (which it joins). */
function uniqueName(taken: Set<string>, wanted: string, fallback: string): string {
  let name = taken.has(wanted) ? fallback : wanted;
  for (let n = 2; taken.has(name); n++) name = `${fallback}.${n}`;
  taken.add(name);
  return name;
}

function parent(topic: string): string {
  const i = topic.lastIndexOf('/');
  return i <= 0 ? '' : topic.slice(0, i + 1);
}

/** What one component becomes, or a thrown reason: its topics must be plain (a wildcard would widen a subscription or break a publish). */
function checkComponent(c: { platform: string; key: string; config: Json }): HaEntity {
  // Component ids become pin and sensor names: the character class the docs give object ids.
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(c.key)) {
    throw new BoardcastError('invalid_payload', 'a component id must be 1 to 64 of [A-Za-z0-9_-]');
  }
  for (const [k, v] of Object.entries(c.config)) {
    if (k.endsWith('_topic') && v !== undefined && !plainTopic(v)) {
      throw new BoardcastError('invalid_payload', `${k} is not a topic without wildcards`);
    }
  }
  for (const a of availabilityOf(c.config)?.topics ?? []) {
    if (!plainTopic(a.topic)) throw new BoardcastError('invalid_payload', 'an availability topic has a wildcard');
  }
  return entityOf(c.platform, c.key, c.config);
}

class DeviceDiscovery extends Emitter<DiscoveryEvents> implements Discovery {
  readonly ready: Promise<void>;
  readonly #client: MqttClient;
  readonly #ownsClient: boolean;
  readonly #ha: string | undefined;
  readonly #tasmota: string | undefined;
  readonly #maxDevices: number;
  readonly #maxComponents: number;
  readonly #maxPayloadBytes: number;
  readonly #settleMs: number;
  readonly #options: DiscoveryOptions;
  readonly #entries = new Map<string, Entry>();
  /** Tasmota sensors messages whose config has not arrived yet, by MAC (at most maxDevices). */
  readonly #pendingSensors = new Map<string, unknown>();
  /** HA discovery topics with only unsupported components, of devices not known yet (at most maxDevices × 8). */
  readonly #parked = new Map<string, { id: string; record: HaRecord }>();
  /** HA discovery topic → the entry it belongs to. */
  readonly #haTopics = new Map<string, string>();
  readonly #devices = new Map<string, DiscoveredDevice>();
  readonly #filters: string[] = [];
  readonly #detach: (() => void)[] = [];
  #capReported = false;
  /** A config was refused for the cap since the last subscribe: when a place frees up, ask for the retained configs again. */
  #refusedForCap = false;
  /** Configs kept as claims only (Entry.overflow), over all devices: at most maxDevices × maxComponents. */
  #overflowCount = 0;
  /**
   * A config over a device's topic cap found that budget spent, so what it
   * claims is unknown: fail closed, no Home Assistant device gets a command
   * topic (a config with one under the lost config's level could be anyone's)
   * until a resubscribe has read the configs again.
   */
  #claimsLost = false;
  /** When the last resubscribe for a freed place was sent (performance.now()), and the one waiting. */
  #lastOffer = Number.NEGATIVE_INFINITY;
  #offerTimer: ReturnType<typeof setTimeout> | undefined;
  #subscribe: () => Promise<void> = () => Promise.resolve();
  #closed = false;

  constructor(client: MqttClient | string, options: DiscoveryOptions) {
    super();
    this.#options = options;
    const prefix = (value: string | false | undefined, fallback: string, what: string): string | undefined => {
      if (value === false) return undefined;
      const p = value ?? fallback;
      if (typeof p !== 'string' || p === '' || /[+#\0]/.test(p) || p.endsWith('/')) {
        throw new BoardcastError(
          'invalid_payload',
          `${what} "${logSafe(String(p))}" must be a topic without +, # or a trailing /`,
        );
      }
      return p;
    };
    this.#ha = prefix(options.homeAssistantPrefix, 'homeassistant', 'homeAssistantPrefix');
    this.#tasmota = prefix(options.tasmotaPrefix, 'tasmota/discovery', 'tasmotaPrefix');
    const count = (value: number | undefined, fallback: number, what: string, min = 1) => {
      const v = value ?? fallback;
      if (!Number.isInteger(v) || v < min)
        throw new BoardcastError('invalid_payload', `${what} must be an integer ≥ ${min}`);
      return v;
    };
    this.#maxDevices = count(options.maxDevices, 256, 'maxDevices');
    this.#maxComponents = count(options.maxComponents, 64, 'maxComponents');
    this.#maxPayloadBytes = count(options.maxPayloadBytes, 65_536, 'maxPayloadBytes');
    this.#settleMs = count(options.settleMs, 200, 'settleMs', 0);
    if (this.#ha) this.#filters.push(`${this.#ha}/+/+/config`, `${this.#ha}/+/+/+/config`);
    if (this.#tasmota) this.#filters.push(`${this.#tasmota}/+/config`, `${this.#tasmota}/+/sensors`);

    this.#ownsClient = typeof client === 'string';
    this.#client = typeof client === 'string' ? connectMqtt(client, options.mqtt ?? {}) : client;
    const c = this.#client;
    const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket) =>
      this.#onMessage(topic, payload, packet);
    c.on('message', onMessage);
    this.#detach.push(() => c.off('message', onMessage));
    const subscribe = () => c.subscribeAsync(this.#filters, { qos: 1 }).then(() => undefined);
    // MQTT.js skips filters it believes subscribed unless told `resubscribe`.
    this.#subscribe = () => {
      const map: Record<string, { qos: 1 }> = {};
      for (const f of this.#filters) map[f] = { qos: 1 };
      return c
        .subscribeAsync({ ...map, resubscribe: true } as Parameters<MqttClient['subscribeAsync']>[0])
        .then(() => undefined);
    };
    const onConnect = () => void subscribe().catch((error) => this.emit('error', error));
    c.on('connect', onConnect);
    this.#detach.push(() => c.off('connect', onConnect));
    this.ready = c.connected
      ? subscribe()
      : new Promise((resolve, reject) => c.once('connect', () => void subscribe().then(resolve, reject)));
    this.ready.catch((error) => this.emit('error', error));
  }

  get devices(): ReadonlyMap<string, DiscoveredDevice> {
    return this.#devices;
  }

  // ------------------------------------------------------------ messages

  #onMessage(topic: string, payload: Buffer, _packet: IPublishPacket): void {
    if (this.#closed) return;
    const ha = this.#ha;
    const tas = this.#tasmota;
    const isHa = ha !== undefined && topic.startsWith(`${ha}/`) && topic.endsWith('/config');
    const isTasmota = tas !== undefined && topic.startsWith(`${tas}/`);
    if (!isHa && !isTasmota) return;
    if (payload.length > this.#maxPayloadBytes) {
      this.emit(
        'error',
        new BoardcastError(
          'payload_too_large',
          `discovery: ${payload.length} bytes on ${logSafe(topic)} exceed ${this.#maxPayloadBytes}`,
        ),
      );
      return;
    }
    try {
      if (isTasmota) this.#onTasmota(topic.slice((tas as string).length + 1), payload.toString('utf8'));
      else this.#onHomeAssistant(topic, payload.toString('utf8'));
    } catch (error) {
      this.emit(
        'error',
        error instanceof BoardcastError
          ? new BoardcastError(error.code, `discovery: ${logSafe(topic)}: ${error.message}`, { cause: error })
          : error,
      );
    }
  }

  #parse(text: string): Json {
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (cause) {
      throw new BoardcastError('invalid_payload', 'the payload is not JSON', { cause });
    }
    if (!isObject(value)) throw new BoardcastError('invalid_payload', 'the payload is not a JSON object');
    return value;
  }

  /** An entry for a new device, unless that would pass `maxDevices`. */
  #entry(id: string, kind: Entry['kind']): Entry | undefined {
    const known = this.#entries.get(id);
    if (known) return known;
    if (this.#entries.size >= this.#maxDevices) {
      // Reported once until a place frees up (a peer may publish many).
      this.#refusedForCap = true;
      if (!this.#capReported) {
        this.#capReported = true;
        this.emit(
          'error',
          new BoardcastError(
            'too_many_clients',
            `discovery: more than maxDevices (${this.#maxDevices}) devices; "${logSafe(id)}" and further ones are refused`,
          ),
        );
      }
      return undefined;
    }
    const entry: Entry = {
      id,
      kind,
      ha: new Map(),
      tasmota: undefined,
      bases: [],
      overflow: new Map(),
      standard: false,
      blockedBy: new Set(),
      signature: '',
      device: undefined,
      timer: undefined,
    };
    this.#entries.set(id, entry);
    return entry;
  }

  #onTasmota(rest: string, text: string): void {
    const m = /^([0-9A-Fa-f]{12})\/(config|sensors)$/.exec(rest);
    if (!m) throw new BoardcastError('invalid_payload', 'not tasmota/discovery/<12 hex digit MAC>/config|sensors');
    const mac = (m[1] as string).toUpperCase();
    const id = deviceId('tasmota', mac);
    if (text === '') {
      if (m[2] === 'sensors') this.#pendingSensors.delete(mac);
      const entry = this.#entries.get(id);
      if (!entry?.tasmota) return;
      if (m[2] === 'config') this.#remove(entry);
      else {
        entry.tasmota.sensors = undefined;
        this.#schedule(entry);
      }
      return;
    }
    const value = this.#parse(text);
    if (m[2] === 'config') {
      try {
        // Refused before it takes a place among maxDevices.
        describeTasmota(mac, value, undefined);
      } catch (error) {
        const known = this.#entries.get(id);
        if (known) this.#remove(known);
        throw error;
      }
    }
    const known = this.#entries.get(id);
    if (m[2] === 'sensors' && !known) {
      // Retained messages may come in any order: sensors without their config
      // wait aside (bounded, and taking no place among maxDevices).
      this.#pendingSensors.delete(mac);
      this.#pendingSensors.set(mac, value);
      if (this.#pendingSensors.size > this.#maxDevices) {
        this.#pendingSensors.delete(this.#pendingSensors.keys().next().value as string);
      }
      return;
    }
    const entry = known ?? this.#entry(id, 'tasmota');
    if (!entry) return;
    entry.tasmota ??= { mac, sensors: this.#pendingSensors.get(mac) };
    this.#pendingSensors.delete(mac);
    if (m[2] === 'config') entry.tasmota.config = value;
    else entry.tasmota.sensors = value;
    this.#schedule(entry);
  }

  #onHomeAssistant(topic: string, text: string): void {
    const parts = parseDiscoveryTopic(this.#ha as string, topic);
    if (!parts) {
      throw new BoardcastError('invalid_payload', 'not <prefix>/<component>/[<node_id>/]<object_id>/config');
    }
    if (text === '') {
      this.#dropHaTopic(topic);
      return;
    }
    const config = expandConfig(this.#parse(text));
    const device = isObject(config.device) ? config.device : undefined;
    const origin = isObject(config.origin) ? config.origin : undefined;
    const components: { platform: string; key: string; config: Json }[] = [];
    if (parts.component === 'device') {
      // One payload for the whole device: shared options at the top, each component under `cmps` with its `p`.
      if (!device) throw new BoardcastError('invalid_payload', 'a device discovery payload needs `dev`');
      if (!isObject(config.components))
        throw new BoardcastError('invalid_payload', 'a device discovery payload needs `cmps`');
      const shared: Json = {};
      for (const key of [
        'state_topic',
        'command_topic',
        'qos',
        'encoding',
        'availability',
        'availability_topic',
        'availability_mode',
        'availability_template',
        'payload_available',
        'payload_not_available',
        '~',
      ]) {
        if (config[key] !== undefined) shared[key] = config[key];
      }
      for (const [key, c] of Object.entries(config.components)) {
        if (!isObject(c)) continue;
        // A component with only its platform left is a removal (the docs' way to drop one component).
        if (typeof c.platform !== 'string' || Object.keys(c).length === 1) continue;
        components.push({ platform: c.platform, key, config: { ...shared, ...c } });
      }
    } else {
      components.push({ platform: parts.component, key: parts.objectId, config });
    }
    // Checked before anything is kept: a device payload's `cmps` is otherwise unbounded.
    if (components.length > this.#maxComponents) {
      throw new BoardcastError(
        'too_many_requests',
        `${components.length} components in one payload, more than maxComponents (${this.#maxComponents})`,
      );
    }
    const ids = device?.identifiers;
    const firstId = Array.isArray(ids) ? ids[0] : ids;
    const cns = device?.connections;
    const firstCn = Array.isArray(cns) && Array.isArray(cns[0]) ? (cns[0] as unknown[]).join('_') : undefined;
    const unique =
      components.length === 1 && typeof components[0]?.config.unique_id === 'string'
        ? components[0].config.unique_id
        : undefined;
    const key =
      typeof firstId === 'string' && firstId !== ''
        ? firstId
        : firstCn !== undefined && firstCn !== ''
          ? firstCn
          : (unique ?? `${parts.nodeId ?? parts.component}_${parts.objectId}`);
    const id = deviceId('ha', String(key));
    // A config none of whose components can become a pin or sensor is refused
    // here, before it takes a place among maxDevices (and it replaces what the topic said before).
    const reasons: string[] = [];
    let onlyUnsupported = true;
    for (const c of components) {
      try {
        checkComponent(c);
        reasons.length = 0;
        break;
      } catch (error) {
        if (!(error instanceof BoardcastError && error.code === 'unsupported')) onlyUnsupported = false;
        reasons.push(`${c.platform}/${c.key}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    // A discovery topic that moves to another device leaves the old one first.
    if (this.#haTopics.get(topic) !== id) this.#dropHaTopic(topic);
    const record: HaRecord = { deviceKey: String(key), raw: text, device, origin, components };
    if (components.length > 0 && reasons.length > 0 && onlyUnsupported) {
      // Only platforms or options a board cannot use (a button, a cover, a
      // select): not an error — a zigbee2mqtt or ESPHome device publishes
      // many. It goes into its device's `skipped` list: now if the device is
      // known, else when it appears (parked meanwhile, bounded, no place
      // among maxDevices).
      const known = this.#entries.get(id);
      if (known) this.#attach(known, topic, record);
      else {
        this.#parked.delete(topic);
        this.#parked.set(topic, { id, record });
        if (this.#parked.size > this.#maxDevices * 8) this.#parked.delete(this.#parked.keys().next().value as string);
      }
      return;
    }
    if (reasons.length > 0 || components.length === 0) {
      throw new BoardcastError(
        'invalid_payload',
        `no component can become a pin or sensor (${reasons.join('; ') || 'none'})`,
      );
    }
    const isNew = !this.#entries.has(id);
    const entry = this.#entry(id, 'homeassistant');
    if (!entry) return;
    this.#attach(entry, topic, record);
    if (isNew) {
      for (const [t, p] of [...this.#parked]) {
        if (p.id !== id) continue;
        this.#parked.delete(t);
        try {
          this.#attach(entry, t, p.record);
        } catch (error) {
          this.emit('error', error, id);
        }
      }
    }
  }

  /** Add (or replace) one discovery topic's record of a device, within maxComponents topics. */
  #attach(entry: Entry, topic: string, record: HaRecord): void {
    if (!entry.ha.has(topic) && entry.ha.size >= this.#maxComponents) {
      // One device id, ever more discovery topics: bounded like its components. What it
      // claims still counts (within a budget over all devices), and when a topic of the
      // device goes, the discovery subscribes again so that this config is read again.
      if (!entry.overflow.has(topic) && this.#overflowCount >= this.#maxDevices * this.#maxComponents) {
        this.#refusedForCap = true;
        if (!this.#claimsLost) this.#loseClaims(entry.id);
      } else {
        const claims = this.#recordBases(record, new Set());
        const before = entry.overflow.get(topic);
        if (!before) this.#overflowCount++;
        entry.overflow.set(topic, claims);
        this.#haTopics.set(topic, entry.id);
        this.#refusedForCap = true;
        if (JSON.stringify(before) !== JSON.stringify(claims)) this.#schedule(entry);
      }
      throw new BoardcastError(
        'too_many_requests',
        `device ${entry.id} already has ${this.#maxComponents} discovery topics (maxComponents)`,
      );
    }
    // The same payload again (a device republishing its config) changes nothing, and must not
    // put its build off: republished every few ms, it would never be built.
    if (entry.ha.get(topic)?.raw === record.raw) return;
    if (entry.overflow.delete(topic)) this.#overflowCount--;
    entry.ha.set(topic, record);
    this.#haTopics.set(topic, entry.id);
    this.#schedule(entry);
  }

  /** A discovery topic's config is gone (emptied, moved to another device, or refused). */
  #dropHaTopic(topic: string): void {
    this.#parked.delete(topic);
    const id = this.#haTopics.get(topic);
    this.#haTopics.delete(topic);
    const entry = id === undefined ? undefined : this.#entries.get(id);
    if (!entry) return;
    if (entry.overflow.delete(topic)) {
      this.#overflowCount--;
      this.#offerPlaces();
    } else if (entry.ha.delete(topic)) this.#offerPlaces();
    if (entry.ha.size === 0) this.#remove(entry);
    else this.#schedule(entry);
  }

  // ------------------------------------------------------------ devices

  /** Its configs changed (or a device it contested changed): claim now, build once they settle. */
  #schedule(entry: Entry): void {
    this.#claim(entry);
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      this.#build(entry);
    }, this.#settleMs);
  }

  /**
   * Does `owner`'s namespace stay its own against `claimant`? A standard
   * Tasmota listens on `cmnd/<t>/` by Tasmota's own protocol, so a Home
   * Assistant config (or a Tasmota config with another FullTopic or prefixes,
   * which can name any topic) whose `~` or state topic lies there is a claim
   * on someone else's namespace: it does not take the Tasmota's relays away
   * (else any config could disable any plug). Between two standard Tasmotas,
   * or two other devices, neither claim is worth more: a command topic under
   * the other's base belongs to neither until one changes or leaves.
   */
  #precedes(owner: Entry, claimant: Entry): boolean {
    return owner.standard && !claimant.standard;
  }

  /** Work out the bases `entry`'s configs claim now; when they changed, rebuild the devices that affects. */
  #claim(entry: Entry): void {
    let bases: readonly string[] = [];
    let standard = false;
    try {
      if (entry.kind === 'tasmota' && entry.tasmota?.config !== undefined) {
        const d = describeTasmota(entry.tasmota.mac, entry.tasmota.config, undefined);
        // Default FullTopic and prefixes: all three bases in Tasmota's own namespaces.
        standard = JSON.stringify(d.bases) === JSON.stringify(['cmnd', 'stat', 'tele'].map((p) => `${p}/${d.topic}/`));
        // A Tasmota also runs what comes on its GroupTopic (default `tasmotas`) and its
        // FallbackTopic (`DVES_<last 6 MAC digits>_fb`) as its own commands. A custom
        // GroupTopic is not in the discovery payload: refuse it with allowCommandTopic.
        const fallback = `DVES_${entry.tasmota.mac.slice(-6).toUpperCase()}_fb`;
        bases = standard ? [...d.bases, 'cmnd/tasmotas/', `cmnd/${fallback}/`] : d.bases;
      } else if (entry.kind === 'homeassistant') bases = this.#haBases(entry);
    } catch {
      // Its build will say what is wrong with it (and take its board away).
    }
    if (JSON.stringify([bases, standard]) === JSON.stringify([entry.bases, entry.standard])) return;
    entry.bases = bases;
    entry.standard = standard;
    for (const other of this.#entries.values()) {
      if (other === entry) continue;
      const commands = other.device?.topics.outputs?.map((o) => o.command) ?? [];
      // A device with a command topic under one of these bases loses it (unless its namespace
      // precedes) at once, not once its own configs settle: republished every few ms, they
      // would never settle, and its board would keep the topic …
      const covered = commands.some((c) => bases.some((b) => under(c, b) || c === b));
      if (covered && !this.#precedes(other, entry)) this.#buildNow(other);
      // … and one this device blocked before may get its own back.
      else if (other.blockedBy.has(entry.id)) this.#schedule(other);
    }
  }

  /** The bases of a Home Assistant device: each usable component's `~`, its state topic as a level, its command topic. */
  #haBases(entry: Entry): string[] {
    // Every component claims, also those past maxComponents that the build skips, and
    // configs the topic cap kept out: else configs joining a device's id could push its
    // switch out, and its claim with it.
    const bases = new Set<string>();
    for (const record of entry.ha.values()) this.#recordBases(record, bases);
    for (const claims of entry.overflow.values()) for (const b of claims) bases.add(b);
    return [...bases];
  }

  #recordBases(record: HaRecord, bases: Set<string>): string[] {
    for (const c of record.components) {
      let entity: HaEntity;
      try {
        entity = checkComponent(c);
      } catch {
        continue;
      }
      const tilde = typeof c.config['~'] === 'string' ? c.config['~'] : undefined;
      if (tilde) bases.add(tilde.endsWith('/') ? tilde : `${tilde}/`);
      if (typeof c.config.state_topic === 'string') bases.add(`${c.config.state_topic}/`);
      // Its command topic itself, exactly: a second config naming the same command topic
      // under the same state-topic level (an ESPHome switch's own pair) contests it.
      if (entity.kind === 'output') bases.add(entity.output.command);
    }
    return [...bases];
  }

  /** Build it now, not once its configs settle (a build that was due is replaced by this one). */
  #buildNow(entry: Entry): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    this.#build(entry);
  }

  /** Build (or rebuild) a device from what its discovery topics say now. */
  #build(entry: Entry): void {
    if (this.#closed || this.#entries.get(entry.id) !== entry) return;
    let built: Omit<DiscoveredDevice, 'board' | 'capabilities'> & { signature: string };
    try {
      built = entry.kind === 'tasmota' ? this.#buildTasmota(entry) : this.#buildHomeAssistant(entry);
    } catch (error) {
      this.emit('error', error, entry.id);
      // Refused: a board that was there goes, but the entry stays with its configs and claims
      // until they change or go (removed, its claims would stop counting, and a config that
      // made it fail on purpose would hand its command topics to another device).
      this.#unboard(entry);
      return;
    }
    if (built.signature === entry.signature && entry.device) return;
    const previous = entry.device;
    let board: MqttBoard;
    try {
      board = new MqttBoard({ ...this.#options.board, id: entry.id, client: this.#client, topics: built.topics });
    } catch (error) {
      // Refused like a config that fails to build: keeping the previous board
      // would keep command topics this build may have refused.
      this.emit('error', error, entry.id);
      this.#unboard(entry);
      return;
    }
    board.on('status', (status) => this.emit('status', entry.id, status));
    board.on('error', (error) => this.emit('error', error, entry.id));
    if (previous) void previous.board.close();
    entry.signature = built.signature;
    const { signature: _signature, ...rest } = built;
    const device: DiscoveredDevice = { ...rest, capabilities: board.capabilities, board };
    entry.device = device;
    this.#devices.set(entry.id, device);
    this.emit('device', device);
  }

  #buildTasmota(entry: Entry) {
    const t = entry.tasmota;
    if (!t?.config) throw new BoardcastError('invalid_payload', 'sensors without a config');
    const d = describeTasmota(t.mac, t.config, t.sensors);
    // Another Tasmota with the same Topic (a second config under another MAC) contests its
    // namespace like any claim: neither gets the relays, whichever the broker sent first.
    const { outputs, skipped } = this.#checkCommands(entry, d.topics.outputs ?? []);
    return {
      id: entry.id,
      kind: 'tasmota' as const,
      name: d.name,
      firmware: d.firmware,
      model: d.model,
      manufacturer: 'Tasmota',
      topics: { ...d.topics, outputs },
      skipped: [...d.skipped, ...skipped],
      signature: JSON.stringify([t.config, t.sensors ?? null, skipped]),
    };
  }

  #buildHomeAssistant(entry: Entry) {
    const records = [...entry.ha.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    const outputs: OutputTopics[] = [];
    const inputs: InputTopics[] = [];
    const sensors: SensorTopics[] = [];
    const skipped: SkippedComponent[] = [];
    const owners = new Map<OutputTopics, string>();
    const pins = new Set<string>();
    const sensorNames = new Set<string>();
    let availability: ReturnType<typeof availabilityOf>;
    let device: Json | undefined;
    let origin: Json | undefined;
    let count = 0;
    let firstName: string | undefined;
    for (const [, record] of records) {
      device ??= record.device;
      origin ??= record.origin;
      for (const c of record.components) {
        const name = `${c.platform}/${c.key}`;
        if (++count > this.#maxComponents) {
          skipped.push({ component: name, reason: `more than maxComponents (${this.#maxComponents})` });
          continue;
        }
        try {
          const entity: HaEntity = checkComponent(c);
          availability ??= availabilityOf(c.config);
          const tilde = typeof c.config['~'] === 'string' ? c.config['~'] : undefined;
          const stateTopic = typeof c.config.state_topic === 'string' ? c.config.state_topic : undefined;
          firstName ??= typeof c.config.name === 'string' ? c.config.name : undefined;
          if (entity.kind === 'sensor') {
            const unique = uniqueName(sensorNames, entity.sensor.name, `${c.platform}.${c.key}`);
            sensors.push({ ...entity.sensor, name: unique });
            continue;
          }
          const pinName = (pin: string) => {
            return uniqueName(pins, pin, `${c.platform}.${c.key}`);
          };
          if (entity.kind === 'input') {
            inputs.push({ ...entity.input, pin: pinName(String(entity.input.pin)) });
            continue;
          }
          const output = { ...entity.output, pin: pinName(String(entity.output.pin)) };
          // The command topic must lie under the component's own base: its `~`, else the level of its state topic.
          const own = tilde ?? parent(String(stateTopic));
          if (own === '' || !under(output.command, own)) {
            throw new BoardcastError(
              'forbidden',
              `command topic "${logSafe(output.command)}" is outside the component's own base topic "${logSafe(own)}"`,
            );
          }
          outputs.push(output);
          owners.set(output, name);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          skipped.push({ component: name, reason });
          if (error instanceof BoardcastError && error.code === 'forbidden') {
            this.emit('error', new BoardcastError('forbidden', `${entry.id} ${name}: ${reason}`), entry.id);
          }
        }
      }
    }
    const checked = this.#checkCommands(entry, outputs, owners);
    skipped.push(...checked.skipped);
    // Nothing left is no board, unless what is missing was lost to a contest with
    // another device: then it stays, a board with nothing to switch, so that its
    // claim still counts (were it removed, the other device would win the topic
    // by making it lose its last component) and its log line says why.
    const contested = [...entry.blockedBy].some((id) => {
      const blocker = this.#entries.get(id);
      return blocker !== undefined && !this.#precedes(blocker, entry);
    });
    if (checked.outputs.length + inputs.length + sensors.length === 0 && !contested) {
      throw new BoardcastError(
        'unsupported',
        `${entry.id}: no component became a pin or sensor (${skipped.map((s) => `${s.component}: ${s.reason}`).join('; ') || 'none'})`,
      );
    }
    const topics: TopicMap = {
      outputs: checked.outputs,
      inputs,
      sensors,
      ...(availability ? { availability: availability.topics, availabilityMode: availability.mode } : {}),
    };
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    return {
      id: entry.id,
      kind: 'homeassistant' as const,
      name: text(device?.name) ?? firstName ?? entry.id,
      firmware: text(device?.sw_version),
      model: text(device?.model),
      manufacturer: text(device?.manufacturer) ?? text(origin?.name),
      topics,
      skipped,
      signature: JSON.stringify([records.map(([t, r]) => [t, r.raw]), checked.skipped]),
    };
  }

  /**
   * Refuse command topics under another device's bases, and those the
   * app's `allowCommandTopic` refuses. Returns the outputs kept.
   */
  #checkCommands(
    entry: Entry,
    outputs: readonly OutputTopics[],
    names?: ReadonlyMap<OutputTopics, string>,
  ): { outputs: OutputTopics[]; skipped: SkippedComponent[] } {
    const kept: OutputTopics[] = [];
    const skipped: SkippedComponent[] = [];
    entry.blockedBy.clear();
    for (const output of outputs) {
      const name = names?.get(output) ?? String(output.pin);
      let reason: string | undefined;
      for (const other of this.#entries.values()) {
        if (other === entry) continue;
        // A standard Tasmota's cmnd/<t>/ is its own against other kinds of claims (#precedes).
        if (this.#precedes(entry, other)) continue;
        const base = other.bases.find((b) => under(output.command, b) || output.command === b);
        if (base !== undefined) {
          reason = `command topic "${output.command}" lies under "${base}", which belongs to device ${other.id}`;
          entry.blockedBy.add(other.id);
          break;
        }
      }
      if (reason === undefined && this.#claimsLost && entry.kind === 'homeassistant') {
        reason = 'the discovery lost claims to its budget (see the too_many_requests error): no command topics for now';
      }
      if (reason === undefined && !plainTopic(output.command)) reason = 'the command topic has a wildcard';
      if (reason === undefined && this.#options.allowCommandTopic) {
        let allowed = false;
        try {
          allowed = this.#options.allowCommandTopic(output.command, { id: entry.id, kind: entry.kind }) === true;
        } catch (error) {
          this.emit('error', error, entry.id);
        }
        if (!allowed) reason = `command topic "${output.command}" refused by allowCommandTopic`;
      }
      if (reason === undefined) kept.push(output);
      else {
        skipped.push({ component: name, reason });
        this.emit('error', new BoardcastError('forbidden', `${entry.id} ${name}: ${logSafe(reason)}`), entry.id);
      }
    }
    return { outputs: kept, skipped };
  }

  /** The claims budget is spent: no Home Assistant device keeps or gets a command topic (#claimsLost). */
  #loseClaims(id: string): void {
    this.#claimsLost = true;
    this.emit(
      'error',
      new BoardcastError(
        'too_many_requests',
        `discovery: configs over the per-device topic cap have spent their budget (maxDevices × maxComponents) at device ${id}; Home Assistant devices get no command topics until the configs are read again`,
      ),
      id,
    );
    for (const other of this.#entries.values()) {
      if (other.kind === 'homeassistant' && other.device?.topics.outputs?.length) this.#buildNow(other);
    }
  }

  /**
   * A place (a device, or a device's topic) freed up: let configs refused for
   * a cap in. Subscribing again to the same filters makes the broker send
   * every retained config again (MQTT 3.1.1 §3.8.4, MQTT 5 Retain Handling 0):
   * the refused config gets its place; known ones are unchanged. At most one
   * such resend per OFFER_GAP_MS, the rest folded into one after it, so a
   * publisher emptying and refilling topics cannot have every retained config
   * resent at its own pace.
   */
  #offerPlaces(): void {
    this.#capReported = false;
    if (!this.#refusedForCap || this.#closed || this.#offerTimer) return;
    const wait = this.#lastOffer + OFFER_GAP_MS - performance.now();
    if (wait > 0) {
      this.#offerTimer = setTimeout(() => {
        this.#offerTimer = undefined;
        this.#offerPlaces();
      }, wait);
      return;
    }
    this.#lastOffer = performance.now();
    this.#refusedForCap = false;
    if (this.#claimsLost) {
      // Read again: a lost config that still finds no room loses them again, on arrival,
      // before any of these rebuilds (they wait settleMs).
      this.#claimsLost = false;
      for (const other of this.#entries.values()) if (other.kind === 'homeassistant') this.#schedule(other);
    }
    void this.#subscribe().catch((error) => this.emit('error', error));
  }

  /** Its board goes (if it had one); the entry, its configs and claims stay. */
  #unboard(entry: Entry): void {
    entry.signature = '';
    const device = entry.device;
    entry.device = undefined;
    if (!device) return;
    this.#devices.delete(entry.id);
    void device.board.close();
    this.emit('removed', entry.id);
  }

  #remove(entry: Entry): void {
    clearTimeout(entry.timer);
    this.#entries.delete(entry.id);
    // Its bases are free again: a device it refused a command topic gets it back.
    for (const other of this.#entries.values()) if (other.blockedBy.has(entry.id)) this.#schedule(other);
    for (const [topic, id] of this.#haTopics) if (id === entry.id) this.#haTopics.delete(topic);
    this.#overflowCount -= entry.overflow.size;
    entry.overflow.clear();
    this.#offerPlaces();
    this.#unboard(entry);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#offerTimer);
    for (const fn of this.#detach) fn();
    const boards: Promise<void>[] = [];
    for (const entry of this.#entries.values()) {
      clearTimeout(entry.timer);
      if (entry.device) boards.push(entry.device.board.close());
    }
    this.#entries.clear();
    this.#devices.clear();
    await Promise.allSettled(boards);
    if (this.#ownsClient) await this.#client.endAsync().catch(() => undefined);
    else if (this.#client.connected) await this.#client.unsubscribeAsync(this.#filters).catch(() => undefined);
  }
}

/**
 * Find the devices already on a broker and make each a board, without
 * configuration: Tasmota's discovery (`tasmota/discovery/<MAC>/config` and
 * `…/sensors`) and Home Assistant MQTT discovery
 * (`homeassistant/<component>/[<node_id>/]<object_id>/config`, abbreviated
 * keys, `~`, and the one-payload device discovery with `dev`, `o`, `cmps`).
 *
 * A discovery payload is untrusted input: it names the topics the board
 * will publish to. Only the configured prefixes are read; at most
 * `maxDevices` devices and `maxComponents` components each are kept; and a
 * command topic is refused (the component skipped, a `forbidden` error
 * reported) when it lies outside the component's own base topic (its `~`,
 * else the level of its state topic; Tasmota's are built from its `Topic`),
 * under a topic another discovered device owns, or where
 * `allowCommandTopic` says no. A claim counts from its config's arrival.
 * A standard Tasmota (default FullTopic and prefixes) keeps its `cmnd/<t>/`
 * whatever other kinds of config claim; any other command topic two devices
 * both cover (two standard Tasmotas with the same `Topic` included) belongs
 * to neither until one changes or leaves, and a device left with nothing by
 * that stays a board with no pins.
 *
 * `client` is an MQTT.js client (yours; the discovery adds listeners and
 * subscriptions and removes them on `close()`) or a broker URL (the
 * discovery makes its client with `connectMqtt` and ends it on `close()`).
 */
export function discoverDevices(client: MqttClient | string, options: DiscoveryOptions = {}): Discovery {
  return new DeviceDiscovery(client, options);
}
