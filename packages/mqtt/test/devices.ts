/**
 * Device doubles on a real broker, as strict as the firmware they stand for:
 * they answer only on the topics and with the payloads the real device uses,
 * publish their last will through the broker when their link dies (a socket
 * closed without DISCONNECT), and keep (or do not keep) retained state the
 * way the real firmware's defaults do.
 */
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';

export { waitFor } from '../../../test-support/wait.js';

type OnOff = 'ON' | 'OFF';

function onOff(on: boolean): OnOff {
  return on ? 'ON' : 'OFF';
}

/** What every double does with its link. */
abstract class DeviceDouble {
  client!: MqttClient;

  /** Pull the plug: the socket closes without DISCONNECT, so the broker publishes the last will. */
  kill(): void {
    this.client.options.reconnectPeriod = 0;
    this.client.stream.destroy();
    this.client.end(true);
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true).catch(() => undefined);
  }
}

/**
 * Tasmota (defaults: FullTopic `%prefix%/%topic%/`, `PowerRetain 0`,
 * `SetOption114 1` for detached switches): `cmnd/<t>/POWER<n>` with
 * `ON`/`OFF`/`TOGGLE`/`1`/`0`/`2` (any case) or empty (query) is answered
 * with `stat/<t>/RESULT {"POWER<n>":"ON"}` and `stat/<t>/POWER<n> ON`, not
 * retained; a one-relay device names its relay `POWER`. `cmnd/<t>/STATUS 10`
 * is answered on `stat/<t>/STATUS10`. LWT `tele/<t>/LWT` `Online`/`Offline`,
 * retained.
 */
export class TasmotaDouble extends DeviceDouble {
  readonly topic: string;
  readonly relays: boolean[];
  readonly switches: boolean[];
  sensors: Record<string, unknown> = {};
  /** Drop every command silently (a device busy, out of flash, half-broken). */
  ignoreCommands = false;
  /** Every command topic + payload received, in order. */
  readonly received: string[] = [];
  /** Extra MQTT.js options (TLS files, credentials). */
  connectOptions: IClientOptions = {};
  /** Tasmota discovery (SetOption19 0, the default since 9.1): the MAC it is published under. */
  discovery: { mac: string; name?: string; fullTopic?: string } | undefined;
  readonly #url: string;

  private constructor(url: string, topic: string, relays: number, switches: number) {
    super();
    this.#url = url;
    this.topic = topic;
    this.relays = Array.from({ length: relays }, () => false);
    this.switches = Array.from({ length: switches }, () => false);
  }

  static async start(
    url: string,
    topic: string,
    options: {
      relays?: number;
      switches?: number;
      connect?: IClientOptions;
      discovery?: { mac: string; name?: string };
      sensors?: Record<string, unknown>;
    } = {},
  ) {
    const device = new TasmotaDouble(url, topic, options.relays ?? 1, options.switches ?? 0);
    device.connectOptions = options.connect ?? {};
    device.discovery = options.discovery;
    device.sensors = options.sensors ?? {};
    await device.connect();
    return device;
  }

  /** (Re)connect, as the firmware does after boot or a lost link. */
  async connect(): Promise<void> {
    const t = this.topic;
    this.client = await connectAsync(this.#url, {
      ...this.connectOptions,
      clientId: `DVES_${t}`,
      keepalive: 30,
      reconnectPeriod: 200,
      will: { topic: `tele/${t}/LWT`, payload: Buffer.from('Offline'), qos: 1, retain: true },
    });
    const client = this.client;
    client.on('message', (topic, payload) => this.#command(topic, payload.toString()));
    client.on('error', () => undefined);
    const announce = () => {
      client.publish(`tele/${t}/LWT`, 'Online', { qos: 1, retain: true });
      // Tasmota resubscribes and announces itself after every reconnect.
      client.subscribe(`cmnd/${t}/#`, { qos: 0 });
      if (this.discovery) this.#publishDiscovery(this.discovery.mac);
    };
    client.on('connect', announce);
    announce();
    await client.subscribeAsync(`cmnd/${t}/#`, { qos: 0 });
  }

  /**
   * Tasmota's discovery messages, retained, as tasmota/docs documents them
   * (pull request 1320): the device on `tasmota/discovery/<MAC>/config`, a
   * sample of its `tele/<t>/SENSOR` message on `…/sensors`.
   */
  #publishDiscovery(mac: string): void {
    const t = this.topic;
    const eight = <T>(list: T[], fill: T): T[] => [...list, ...Array.from({ length: 8 - list.length }, () => fill)];
    const config = {
      ip: '192.168.1.50',
      dn: 'Tasmota',
      fn: eight<string | null>([this.discovery?.name ?? 'Tasmota'], null),
      hn: `${t}-${mac.slice(-4)}`,
      mac,
      md: this.relays.length > 1 ? 'Sonoff Dual R2' : 'Sonoff Basic',
      ty: 0,
      if: 0,
      ofln: 'Offline',
      onln: 'Online',
      state: ['OFF', 'ON', 'TOGGLE', 'HOLD'],
      sw: '13.2.0',
      t,
      ft: '%prefix%/%topic%/',
      tp: ['cmnd', 'stat', 'tele'],
      rl: eight(
        this.relays.map(() => 1),
        0,
      ),
      swc: eight(
        this.switches.map(() => 0),
        -1,
      ),
      swn: eight<string | null>([], null),
      btn: eight([], 0),
      so: {
        '4': 0,
        '11': 0,
        '13': 0,
        '17': 0,
        '20': 0,
        '30': 0,
        '68': 0,
        '73': 0,
        '82': 0,
        '114': this.switches.length > 0 ? 1 : 0,
        '117': 0,
      },
      lk: 0,
      lt_st: 0,
      sho: [],
      sht: [],
      ver: 1,
    };
    this.client.publish(`tasmota/discovery/${mac}/config`, JSON.stringify(config), { qos: 1, retain: true });
    this.client.publish(
      `tasmota/discovery/${mac}/sensors`,
      JSON.stringify({ sn: { Time: new Date().toISOString().slice(0, 19), ...this.#sensorJson() }, ver: 1 }),
      { qos: 1, retain: true },
    );
  }

  /** Remove the discovery messages (Tasmota does when discovery is switched off): empty retained payloads. */
  async removeDiscovery(): Promise<void> {
    const mac = this.discovery?.mac;
    if (!mac) return;
    await this.client.publishAsync(`tasmota/discovery/${mac}/config`, '', { qos: 1, retain: true });
    await this.client.publishAsync(`tasmota/discovery/${mac}/sensors`, '', { qos: 1, retain: true });
  }

  #relayKey(index: number): string {
    return this.relays.length === 1 ? 'POWER' : `POWER${index + 1}`;
  }

  #reportRelay(index: number): void {
    const key = this.#relayKey(index);
    const state = onOff(this.relays[index] ?? false);
    this.client.publish(`stat/${this.topic}/RESULT`, JSON.stringify({ [key]: state }));
    this.client.publish(`stat/${this.topic}/${key}`, state);
  }

  #command(topic: string, payload: string): void {
    const prefix = `cmnd/${this.topic}/`;
    if (!topic.startsWith(prefix)) return;
    this.received.push(`${topic.slice(prefix.length)} ${payload}`);
    if (this.ignoreCommands) return;
    const command = topic.slice(prefix.length).toUpperCase();
    const power = /^POWER(\d*)$/.exec(command);
    if (power) {
      const index = power[1] === '' ? 0 : Number(power[1]) - 1;
      if (index < 0 || index >= this.relays.length) {
        this.client.publish(`stat/${this.topic}/RESULT`, '{"Command":"Unknown"}');
        return;
      }
      const p = payload.trim().toUpperCase();
      if (p === 'ON' || p === '1') this.relays[index] = true;
      else if (p === 'OFF' || p === '0') this.relays[index] = false;
      else if (p === 'TOGGLE' || p === '2') this.relays[index] = !this.relays[index];
      // Anything else (including empty) only reports the state.
      this.#reportRelay(index);
      return;
    }
    if (command === 'STATUS' && payload.trim() === '10') {
      this.client.publish(
        `stat/${this.topic}/STATUS10`,
        JSON.stringify({ StatusSNS: { Time: new Date().toISOString().slice(0, 19), ...this.#sensorJson() } }),
      );
      return;
    }
    this.client.publish(`stat/${this.topic}/RESULT`, '{"Command":"Unknown"}');
  }

  #sensorJson(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.switches.forEach((on, i) => {
      out[`Switch${i + 1}`] = onOff(on);
    });
    return { ...out, ...this.sensors };
  }

  /** The device's own button toggles relay `index` (reported like a command). */
  pressButton(index = 0): void {
    this.relays[index] = !this.relays[index];
    if (this.client.connected) this.#reportRelay(index);
  }

  /** A detached switch changes (SetOption114 1). */
  setSwitch(index: number, on: boolean): void {
    this.switches[index] = on;
    this.client.publish(`stat/${this.topic}/RESULT`, JSON.stringify({ [`Switch${index + 1}`]: { Action: onOff(on) } }));
  }

  /** Telemetry (TelePeriod): `tele/<t>/SENSOR`. */
  telemetry(sensors: Record<string, unknown>): void {
    this.sensors = sensors;
    this.client.publish(
      `tele/${this.topic}/SENSOR`,
      JSON.stringify({ Time: new Date().toISOString().slice(0, 19), ...this.#sensorJson() }),
    );
  }
}

/**
 * ESPHome with the `mqtt:` component (defaults: `retain: true`, birth
 * `<p>/status online`, will `<p>/status offline`): switch commands on
 * `<p>/switch/<id>/command` (`ON`/`OFF`/`TOGGLE`, any case); every state
 * published retained on `<p>/<component>/<id>/state`, and all of them again
 * after each (re)connect.
 */
export class EsphomeDouble extends DeviceDouble {
  readonly prefix: string;
  readonly switches = new Map<string, boolean>();
  readonly binarySensors = new Map<string, boolean>();
  readonly sensors = new Map<string, number>();
  ignoreCommands = false;
  /** QoS of state messages (ESPHome's `qos:` option, default 0). */
  qos: 0 | 1 = 0;
  /** Home Assistant discovery (`mqtt: discovery: true`, ESPHome's default): the node's MAC (its `dev.ids`). */
  discovery: { mac: string } | undefined;
  readonly #url: string;

  private constructor(url: string, prefix: string) {
    super();
    this.#url = url;
    this.prefix = prefix;
  }

  static async start(
    url: string,
    prefix: string,
    entities: {
      switches?: string[];
      binarySensors?: string[];
      sensors?: Record<string, number>;
      qos?: 0 | 1;
      discovery?: { mac: string };
    } = {},
  ): Promise<EsphomeDouble> {
    const device = new EsphomeDouble(url, prefix);
    device.qos = entities.qos ?? 0;
    device.discovery = entities.discovery;
    for (const id of entities.switches ?? []) device.switches.set(id, false);
    for (const id of entities.binarySensors ?? []) device.binarySensors.set(id, false);
    for (const [id, v] of Object.entries(entities.sensors ?? {})) device.sensors.set(id, v);
    await device.connect();
    return device;
  }

  async connect(): Promise<void> {
    const p = this.prefix;
    this.client = await connectAsync(this.#url, {
      clientId: `${p}-esphome`,
      keepalive: 15,
      reconnectPeriod: 200,
      will: { topic: `${p}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    const client = this.client;
    client.on('error', () => undefined);
    client.on('message', (topic, payload) => this.#command(topic, payload.toString()));
    const announce = () => {
      client.publish(`${p}/status`, 'online', { qos: 1, retain: true });
      for (const id of this.switches.keys()) client.subscribe(`${p}/switch/${id}/command`, { qos: 0 });
      for (const [id, on] of this.switches) this.#state('switch', id, onOff(on));
      for (const [id, on] of this.binarySensors) this.#state('binary_sensor', id, onOff(on));
      for (const [id, v] of this.sensors) this.#state('sensor', id, v.toFixed(1));
      if (this.discovery) this.#publishDiscovery(this.discovery.mac);
    };
    client.on('connect', announce);
    announce();
  }

  /**
   * ESPHome's Home Assistant discovery, retained, one message per entity on
   * `homeassistant/<component>/<node>/<object_id>/config` with abbreviated
   * keys (shape from the ESPHome MQTT client component docs).
   */
  #publishDiscovery(mac: string): void {
    const p = this.prefix;
    const dev = { ids: mac, name: p, sw: 'esphome v2024.6.0', mdl: 'esp32dev', mf: 'espressif' };
    const o = { name: 'ESPHome', sw: '2024.6.0', url: 'https://esphome.io' };
    const publish = (component: string, id: string, extra: Record<string, unknown>) =>
      this.client.publish(
        `homeassistant/${component}/${p}/${id}/config`,
        JSON.stringify({
          name: id,
          stat_t: `${p}/${component}/${id}/state`,
          avty_t: `${p}/status`,
          uniq_id: `ESP${component}${id}`,
          ...extra,
          dev,
          o,
        }),
        { qos: 1, retain: true },
      );
    for (const id of this.switches.keys()) publish('switch', id, { cmd_t: `${p}/switch/${id}/command` });
    for (const id of this.binarySensors.keys()) publish('binary_sensor', id, {});
    for (const id of this.sensors.keys()) {
      publish('sensor', id, { unit_of_meas: '°C', dev_cla: 'temperature', stat_cla: 'measurement' });
    }
  }

  #state(component: string, id: string, payload: string): void {
    this.client.publish(`${this.prefix}/${component}/${id}/state`, payload, { qos: this.qos, retain: true });
  }

  #command(topic: string, payload: string): void {
    const m = new RegExp(`^${this.prefix}/switch/([^/]+)/command$`).exec(topic);
    if (!m || this.ignoreCommands) return;
    const id = m[1] as string;
    if (!this.switches.has(id)) return;
    const p = payload.trim().toUpperCase();
    // ESPHome logs and ignores anything else.
    if (p === 'ON') this.switches.set(id, true);
    else if (p === 'OFF') this.switches.set(id, false);
    else if (p === 'TOGGLE') this.switches.set(id, !this.switches.get(id));
    else return;
    this.#state('switch', id, onOff(this.switches.get(id) ?? false));
  }

  setBinarySensor(id: string, on: boolean): void {
    this.binarySensors.set(id, on);
    this.#state('binary_sensor', id, onOff(on));
  }

  setSensor(id: string, value: number): void {
    this.sensors.set(id, value);
    this.#state('sensor', id, value.toFixed(1));
  }
}

/**
 * A device announced with Home Assistant's one-payload device discovery
 * (`homeassistant/device/<id>/config` with `dev`, `o` and `cmps`, each
 * component with its `p`; shape from the Home Assistant MQTT docs), using
 * zigbee2mqtt's topic conventions: state as JSON on `<base>`, commands as
 * JSON on `<base>/set`, availability `{"state":"online"}` on
 * `<base>/availability` (its last will) and on the bridge's `bridge/state`,
 * combined with `availability_mode: all`.
 */
export class DeviceDiscoveryDouble extends DeviceDouble {
  readonly base: string;
  readonly objectId: string;
  light = false;
  contact = true;
  temperature = 21.5;
  readonly received: string[] = [];
  readonly #url: string;
  readonly #bridge: string;

  private constructor(url: string, bridge: string, name: string, objectId: string) {
    super();
    this.#url = url;
    this.#bridge = bridge;
    this.base = `${bridge}/${name}`;
    this.objectId = objectId;
  }

  static async start(url: string, options: { bridge?: string; name: string; objectId: string }) {
    const device = new DeviceDiscoveryDouble(url, options.bridge ?? 'zigbee2mqtt', options.name, options.objectId);
    await device.connect();
    return device;
  }

  async connect(): Promise<void> {
    const b = this.base;
    this.client = await connectAsync(this.#url, {
      clientId: `${this.objectId}-double`,
      reconnectPeriod: 200,
      will: { topic: `${b}/availability`, payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true },
    });
    const client = this.client;
    client.on('error', () => undefined);
    client.on('message', (topic, payload) => this.#command(topic, payload.toString()));
    await client.subscribeAsync(`${b}/set`, { qos: 0 });
    await client.publishAsync(`${this.#bridge}/bridge/state`, '{"state":"online"}', { qos: 1, retain: true });
    await client.publishAsync(`${b}/availability`, '{"state":"online"}', { qos: 1, retain: true });
    await client.publishAsync(`homeassistant/device/${this.objectId}/config`, JSON.stringify(this.config()), {
      qos: 1,
      retain: true,
    });
    this.#report();
  }

  /** The discovery payload. */
  config(): Record<string, unknown> {
    const avty = '{{ value_json.state }}';
    return {
      dev: {
        ids: `zigbee2mqtt_${this.objectId}`,
        name: this.base.split('/').pop(),
        mf: 'IKEA',
        mdl: 'TRADFRI bulb',
        sw: '1.0.021',
      },
      o: { name: 'Zigbee2MQTT', sw: '1.40.0', url: 'https://www.zigbee2mqtt.io' },
      avty: [
        { t: `${this.#bridge}/bridge/state`, val_tpl: avty },
        { t: `${this.base}/availability`, val_tpl: avty },
      ],
      avty_mode: 'all',
      stat_t: this.base,
      cmps: {
        light: { p: 'light', schema: 'json', cmd_t: `${this.base}/set`, uniq_id: `${this.objectId}_light` },
        temperature: {
          p: 'sensor',
          dev_cla: 'temperature',
          unit_of_meas: '°C',
          val_tpl: '{{ value_json.temperature }}',
          uniq_id: `${this.objectId}_temperature`,
        },
        // zigbee2mqtt's door sensor: payload_on false (open), payload_off true (closed).
        contact: {
          p: 'binary_sensor',
          dev_cla: 'door',
          val_tpl: '{{ value_json.contact }}',
          pl_on: false,
          pl_off: true,
          uniq_id: `${this.objectId}_contact`,
        },
        effect: {
          p: 'select',
          cmd_t: `${this.base}/set/effect`,
          val_tpl: '{{ value_json.effect }}',
          options: ['blink', 'breathe'],
          uniq_id: `${this.objectId}_effect`,
        },
      },
      qos: 1,
    };
  }

  #report(): void {
    this.client.publish(
      this.base,
      JSON.stringify({ state: this.light ? 'ON' : 'OFF', temperature: this.temperature, contact: this.contact }),
      { qos: 0, retain: true },
    );
  }

  #command(topic: string, payload: string): void {
    if (topic !== `${this.base}/set`) return;
    this.received.push(payload);
    let body: unknown;
    try {
      body = JSON.parse(payload);
    } catch {
      return;
    }
    const state = (body as { state?: unknown }).state;
    if (state === 'ON') this.light = true;
    else if (state === 'OFF') this.light = false;
    else if (state === 'TOGGLE') this.light = !this.light;
    else return;
    this.#report();
  }

  setTemperature(value: number): void {
    this.temperature = value;
    this.#report();
  }

  openDoor(open: boolean): void {
    this.contact = !open;
    this.#report();
  }

  async removeDiscovery(): Promise<void> {
    await this.client.publishAsync(`homeassistant/device/${this.objectId}/config`, '', { qos: 1, retain: true });
  }
}
