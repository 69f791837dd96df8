import type {
  Board,
  BoardCapabilities,
  BoardEvents,
  BoardStatus,
  Level,
  OperationOptions,
  Pin,
  PinEdgeEvent,
  PinMode,
  PinModeOptions,
  SensorReading,
  WatchOptions,
} from '@boardcast/board-adapter-gpio';
import { Debouncer } from '@boardcast/board-adapter-gpio';
import { BoardcastError, Emitter } from '@boardcast/core';
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { ClientRouter } from './client-router.js';
import { connectMqtt } from './connect.js';
import { type AvailabilityTopic, type Decode, decodeLevel, decodeNumber, sources, type TopicMap } from './topics.js';

export interface MqttBoardOptions {
  /** Board id (status events, errors, the hub's `board` event). */
  readonly id: string;
  /** The device's topics: `tasmota(…)`, `esphome(…)` or a map of your own. */
  readonly topics: TopicMap;
  /**
   * An MQTT.js client you created and will end yourself. Give either this or
   * `url`. The board adds its own listeners and subscriptions and removes
   * them on `close()`.
   */
  readonly client?: MqttClient;
  /** Broker URL (`mqtt://host:1883`, `mqtts://host:8883`, `ws://…`); the board creates and ends its client. */
  readonly url?: string;
  /**
   * Passed to MQTT.js `connect(url, options)` unchanged: `username`,
   * `password`, `clientId`, TLS `ca`/`cert`/`key`/`rejectUnauthorized`,
   * `keepalive`, `reconnectPeriod` … (only with `url`).
   */
  readonly mqtt?: IClientOptions;
  /** How long a write waits for the device to report the requested level (default 5000 ms). */
  readonly commandTimeoutMs?: number;
  /** How long a (re)connect waits for retained states and query answers before the board goes online anyway (default 3000 ms). */
  readonly resyncTimeoutMs?: number;
  /** QoS of the board's subscriptions (default 1). Commands are always QoS 0, see the README. */
  readonly qos?: 0 | 1 | 2;
  /** Messages larger than this are reported as `payload_too_large` and ignored (default 65536 bytes). */
  readonly maxPayloadBytes?: number;
  /**
   * With `url`: the largest MQTT packet the board's client accepts, in bytes
   * (default `maxPayloadBytes` + 65536, room for the topic and properties).
   * MQTT 5 announces it to the broker, which then never sends more; on any
   * version a larger packet drops the connection before it is read (see
   * `connectMqtt`), reported as `payload_too_large`. A client you pass is
   * yours to bound: make it with `connectMqtt`.
   */
  readonly maximumPacketSize?: number;
  /**
   * Topic prefix of the board's own sync marker, a message it sends itself
   * after subscribing so it knows every retained message has arrived
   * (default `boardcast/sync`). Give a topic your ACL lets this client
   * publish and subscribe.
   */
  readonly syncTopic?: string;
}

/** Events of an MqttBoard: a Board's, plus every state report the device makes. */
export type MqttBoardEvents = BoardEvents & {
  /** A pin's reported level changed (outputs too, whoever switched them: a page, a wall switch, a timer on the device). */
  change: (edge: PinEdgeEvent) => void;
};

type Route =
  | { readonly kind: 'level'; readonly key: string; readonly decode: Decode<Level> }
  | { readonly kind: 'sensor'; readonly name: string; readonly decode: Decode<number> }
  | { readonly kind: 'availability'; readonly index: number };

interface OutputEntry {
  readonly pin: Pin;
  readonly command: string;
  readonly on: string;
  readonly off: string;
  readonly query: { readonly topic: string; readonly payload: string } | undefined;
}

interface Waiter {
  readonly key: string;
  /** The level a write waits for; undefined: any report (a read). */
  readonly want: Level | undefined;
  /** Reports that arrive after this count; earlier retained or in-flight ones do not. */
  readonly resolve: (level: Level) => void;
  readonly reject: (error: unknown) => void;
}

interface Watcher {
  readonly key: string;
  /** The board package's "stable for debounceMs" debouncer, seeded with the level known at `watch`. */
  readonly debouncer: Debouncer;
}

const INPUT_MODES: readonly PinMode[] = ['input', 'input_pullup', 'input_pulldown'];

function keyOf(pin: Pin): string {
  return String(pin);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`${name} must be a positive number of ms, got ${String(v)}`);
  return v;
}

/**
 * A topic the board publishes to. A wildcard there is a protocol error the
 * broker answers by dropping the connection, so one bad command topic would
 * take the board (and every user of a shared client) offline on each write.
 */
function publishable(topic: unknown, what: string): void {
  if (typeof topic !== 'string' || topic === '' || /[+#\0]/.test(topic)) {
    throw new BoardcastError(
      'invalid_payload',
      `${what} "${String(topic)}" is not a topic one can publish to (empty, or with +, # or NUL)`,
    );
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new BoardcastError('timeout', 'operation aborted');
}

/**
 * A `Board` whose pins are MQTT topics: outputs are switched by publishing to
 * their command topic and are confirmed only by the device's own state
 * report; inputs and sensors are what the device reports; availability
 * (normally the device's last will) drives `status`.
 *
 * - Writes resolve with the level the device reports, never the request;
 *   with no matching report within `commandTimeoutMs` (or the caller's
 *   deadline) they reject `timeout`, and the board keeps reporting what the
 *   state topic says.
 * - While the device or the broker is unreachable every operation rejects
 *   `board_offline` at once, and nothing is published (MQTT.js would
 *   otherwise queue the command and send it whenever the link returns).
 * - Each (re)connect resubscribes, waits for the retained messages, asks the
 *   device for what it does not retain, and only then turns `online`.
 * - Malformed messages are `error` events (`invalid_payload`,
 *   `payload_too_large`); the last good state stays.
 */
export class MqttBoard extends Emitter<MqttBoardEvents> implements Board {
  readonly id: string;
  readonly kind = 'mqtt';
  readonly capabilities: BoardCapabilities;
  /** The MQTT.js client the board uses (its own when created from `url`). */
  readonly client: MqttClient;
  readonly #ownsClient: boolean;
  readonly #topics: TopicMap;
  readonly #commandTimeoutMs: number;
  readonly #resyncTimeoutMs: number;
  readonly #qos: 0 | 1 | 2;
  readonly #maxPayloadBytes: number;
  readonly #syncTopic: string;
  readonly #routes = new Map<string, Route[]>();
  readonly #outputs = new Map<string, OutputEntry>();
  readonly #inputs = new Set<string>();
  readonly #sensorNames = new Set<string>();
  readonly #levels = new Map<string, Level>();
  readonly #readings = new Map<string, SensorReading>();
  readonly #waiters = new Set<Waiter>();
  readonly #sensorWaiters = new Set<{ name: string; resolve: (v: number) => void; reject: (e: unknown) => void }>();
  readonly #watchers = new Set<Watcher>();
  /** Resync waits for answers on these topics (query responses). */
  readonly #topicWaiters = new Set<{ topic: string; resolve: () => void }>();
  readonly #detach: (() => void)[] = [];
  readonly #router: ClientRouter;
  #status: BoardStatus = 'offline';
  /** Availability from the device's last will / birth message; undefined until the broker told us. */
  #available: boolean | undefined;
  /** What each availability topic last said (several topics combine by `availabilityMode`). */
  readonly #availableBy = new Map<number, boolean>();
  readonly #availabilityTopics: readonly AvailabilityTopic[];
  /** Subscribed and every retained message seen since the last connect. */
  #synced = false;
  /** Bumped on every connect, disconnect and availability change: stale resyncs stop. */
  #generation = 0;
  #syncWaiter: { marker: string; resolve: () => void } | undefined;
  #closed = false;

  constructor(options: MqttBoardOptions) {
    super();
    if (typeof options.id !== 'string' || options.id === '') throw new TypeError('MqttBoard needs an id');
    if ((options.client === undefined) === (options.url === undefined)) {
      throw new TypeError('MqttBoard needs exactly one of `client` (an MQTT.js client) or `url`');
    }
    this.id = options.id;
    this.#topics = options.topics;
    this.#commandTimeoutMs = positive(options.commandTimeoutMs, 5000, 'commandTimeoutMs');
    this.#resyncTimeoutMs = positive(options.resyncTimeoutMs, 3000, 'resyncTimeoutMs');
    this.#qos = options.qos ?? 1;
    this.#maxPayloadBytes = positive(options.maxPayloadBytes, 65_536, 'maxPayloadBytes');
    if (options.syncTopic !== undefined) publishable(options.syncTopic, 'syncTopic');
    this.#syncTopic = `${options.syncTopic ?? 'boardcast/sync'}/${this.id.replace(/[+#/\0]/g, '_')}-${Math.random().toString(36).slice(2, 10)}`;
    const availability = options.topics.availability;
    this.#availabilityTopics =
      availability === undefined
        ? []
        : Array.isArray(availability)
          ? (availability as readonly AvailabilityTopic[])
          : [availability as AvailabilityTopic];
    this.capabilities = this.#build(options.topics);

    this.#ownsClient = options.client === undefined;
    this.client =
      options.client ??
      connectMqtt(options.url as string, {
        ...options.mqtt,
        maximumPacketSize: options.maximumPacketSize ?? this.#maxPayloadBytes + 65_536,
      });
    const client = this.client;
    // One set of client listeners for all boards on a shared client (see ClientRouter).
    this.#router = ClientRouter.of(client);
    const router = this.#router;
    const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket) =>
      this.#onMessage(topic, payload, packet.retain === true);
    this.#detach.push(
      router.on('connect', () => void this.#onConnect()),
      router.on('close', () => this.#onDisconnect()),
      router.on('error', (error: Error & { code?: unknown }) => this.emit('error', this.#clientError(error))),
      ...[...this.#routes.keys(), this.#syncTopic].map((topic) => router.route(topic, onMessage)),
    );
    router.hold([...this.#routes.keys(), this.#syncTopic]);
    if (client.connected) void this.#onConnect();
  }

  get status(): BoardStatus {
    return this.#status;
  }

  /** Last level the device reported for each pin (outputs and inputs). */
  get levels(): ReadonlyMap<string, Level> {
    return this.#levels;
  }

  /** Last reading of each sensor. */
  get readings(): ReadonlyMap<string, SensorReading> {
    return this.#readings;
  }

  // ------------------------------------------------------------ Board API

  /**
   * Checks that the pin supports `mode`; nothing is sent. An MQTT device's
   * pins are configured on the device (Tasmota `GPIO` templates, ESPHome
   * YAML), and its outputs were outputs before this board existed, so
   * `initial` does not switch anything: a server restart never clicks a
   * relay. The device's own power-on setting (Tasmota `PowerOnState`,
   * ESPHome `restore_mode`) decides that.
   */
  async pinMode(pin: Pin, mode: PinMode, options: PinModeOptions = {}): Promise<void> {
    this.#checkOperation(options);
    const cap = this.capabilities.pins.find((p) => keyOf(p.pin) === keyOf(pin));
    if (!cap) throw this.#unsupported(pin, 'no such pin in the topic map');
    if (!cap.modes.includes(mode)) throw this.#unsupported(pin, `mode "${String(mode)}" is not supported`);
  }

  /**
   * Publish the command and resolve with the level the device reports on the
   * state topic (only a report of the requested level, arriving after the
   * command, confirms it). Rejects `board_offline` at once when offline,
   * `timeout` without a confirmation in time, the signal's reason when
   * aborted; an aborted or expired command is never published.
   */
  async digitalWrite(pin: Pin, value: Level, options: OperationOptions = {}): Promise<Level> {
    if (value !== 0 && value !== 1) throw new BoardcastError('invalid_payload', 'digitalWrite value must be 0 or 1');
    const output = this.#outputs.get(keyOf(pin));
    if (!output) {
      throw this.#inputs.has(keyOf(pin))
        ? this.#unsupported(pin, 'is an input (it has no command topic)')
        : this.#unsupported(pin, 'no such pin in the topic map');
    }
    const waitMs = this.#checkOperation(options);
    this.#requireOnline();
    const confirmed = this.#waitLevel(keyOf(pin), value, waitMs, options.signal, () => {
      const reported = this.#levels.get(keyOf(pin));
      const said = reported === undefined ? 'nothing' : reported === 1 ? 'ON' : 'OFF';
      return new BoardcastError(
        'timeout',
        `board "${this.id}" pin ${keyOf(pin)}: the device did not confirm ${value === 1 ? 'ON' : 'OFF'} within ${Math.round(waitMs)} ms (it reports ${said})`,
        { details: { board: this.id, pin, requested: value, reported } },
      );
    });
    this.#publish(output.command, value === 1 ? output.on : output.off);
    return confirmed;
  }

  /** The level the device last reported; asks it (the output's query) and waits when none is known yet. */
  async digitalRead(pin: Pin, options: OperationOptions = {}): Promise<Level> {
    const key = keyOf(pin);
    const output = this.#outputs.get(key);
    if (!output && !this.#inputs.has(key)) throw this.#unsupported(pin, 'no such pin in the topic map');
    const waitMs = this.#checkOperation(options);
    this.#requireOnline();
    const known = this.#levels.get(key);
    if (known !== undefined) return known;
    const reported = this.#waitLevel(
      key,
      undefined,
      waitMs,
      options.signal,
      () =>
        new BoardcastError(
          'timeout',
          `board "${this.id}" pin ${key}: the device reported no state within ${waitMs} ms`,
        ),
    );
    if (output?.query) this.#publish(output.query.topic, output.query.payload);
    return reported;
  }

  /**
   * Report changes of a pin's reported level (inputs, and outputs whoever
   * switched them). A level counts once it has held `debounceMs` (default 0).
   */
  watch(pin: Pin, options: WatchOptions, listener: (edge: PinEdgeEvent) => void): () => void {
    const key = keyOf(pin);
    if (!this.#outputs.has(key) && !this.#inputs.has(key)) throw this.#unsupported(pin, 'no such pin in the topic map');
    const debounceMs = options.debounceMs ?? 0;
    if (!(Number.isFinite(debounceMs) && debounceMs >= 0)) {
      throw new BoardcastError('invalid_payload', 'debounceMs must be a number ≥ 0');
    }
    const edge = options.edge ?? 'both';
    const debouncer = new Debouncer(debounceMs, this.#levels.get(key), (value) => {
      if (edge !== 'both' && (edge === 'rising') !== (value === 1)) return;
      try {
        listener({ pin, value, at: Date.now() });
      } catch (error) {
        this.emit('error', error);
      }
    });
    const watcher: Watcher = { key, debouncer };
    this.#watchers.add(watcher);
    return () => {
      debouncer.cancel();
      this.#watchers.delete(watcher);
    };
  }

  async analogRead(pin: Pin): Promise<number> {
    throw this.#unsupported(pin, 'an MQTT device has no analog pins here; map the value as a sensor');
  }

  /** The sensor's last reported value; waits for the next report when none has arrived yet. */
  async readSensor(name: string, options: OperationOptions = {}): Promise<number> {
    if (!this.#sensorNames.has(name)) {
      throw new BoardcastError('unsupported', `board "${this.id}": no sensor "${name}" in the topic map`, {
        details: { board: this.id, sensor: name },
      });
    }
    const waitMs = this.#checkOperation(options);
    this.#requireOnline();
    const known = this.#readings.get(name);
    if (known) return known.value;
    return new Promise<number>((resolve, reject) => {
      const entry = {
        name,
        resolve: (v: number) => {
          done();
          resolve(v);
        },
        reject: (e: unknown) => {
          done();
          reject(e);
        },
      };
      const timer = setTimeout(
        () =>
          entry.reject(
            new BoardcastError('timeout', `board "${this.id}": sensor "${name}" reported nothing within ${waitMs} ms`),
          ),
        waitMs,
      );
      const onAbort = () => entry.reject(abortReason(options.signal as AbortSignal));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.#sensorWaiters.delete(entry);
      };
      this.#sensorWaiters.add(entry);
    });
  }

  /** Stop listening; pending operations reject `closed`. Ends the MQTT client only when the board created it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#generation++;
    this.#syncWaiter?.resolve();
    for (const fn of this.#detach) fn();
    for (const w of this.#watchers) w.debouncer.cancel();
    this.#watchers.clear();
    this.#failAll(new BoardcastError('closed', `board "${this.id}" is closed`));
    this.#status = 'offline';
    // Topics another board on the same client still reads stay subscribed.
    const unused = this.#router.release([...this.#routes.keys(), this.#syncTopic]);
    if (this.#ownsClient) await this.client.endAsync(true).catch(() => undefined);
    else if (this.client.connected && unused.length > 0) {
      await this.client.unsubscribeAsync(unused).catch(() => undefined);
    }
  }

  // ------------------------------------------------------------ topic map

  #build(map: TopicMap): BoardCapabilities {
    const add = (topic: string, route: Route) => {
      if (typeof topic !== 'string' || topic === '' || /[+#\0]/.test(topic)) {
        throw new BoardcastError('invalid_payload', `"${String(topic)}" is not a topic a board can subscribe to`);
      }
      const list = this.#routes.get(topic);
      if (list) list.push(route);
      else this.#routes.set(topic, [route]);
    };
    const seen = new Set<string>();
    const claim = (pin: Pin) => {
      const key = keyOf(pin);
      if (seen.has(key)) throw new BoardcastError('invalid_payload', `pin ${key} appears twice in the topic map`);
      seen.add(key);
      return key;
    };
    const pins: { pin: Pin; modes: readonly PinMode[]; name?: string }[] = [];
    for (const out of map.outputs ?? []) {
      const key = claim(out.pin);
      publishable(out.command, `pin ${key} command topic`);
      if (out.query) publishable(out.query.topic, `pin ${key} query topic`);
      this.#outputs.set(key, {
        pin: out.pin,
        command: out.command,
        on: out.payloads?.on ?? 'ON',
        off: out.payloads?.off ?? 'OFF',
        query: out.query,
      });
      for (const s of sources(out.state, decodeLevel)) add(s.topic, { kind: 'level', key, decode: s.decode });
      pins.push(
        out.name === undefined
          ? { pin: out.pin, modes: ['output'] }
          : { pin: out.pin, modes: ['output'], name: out.name },
      );
    }
    for (const input of map.inputs ?? []) {
      const key = claim(input.pin);
      this.#inputs.add(key);
      for (const s of sources(input.state, decodeLevel)) add(s.topic, { kind: 'level', key, decode: s.decode });
      pins.push(
        input.name === undefined
          ? { pin: input.pin, modes: INPUT_MODES }
          : { pin: input.pin, modes: INPUT_MODES, name: input.name },
      );
    }
    for (const sensor of map.sensors ?? []) {
      if (this.#sensorNames.has(sensor.name)) {
        throw new BoardcastError('invalid_payload', `sensor "${sensor.name}" appears twice in the topic map`);
      }
      this.#sensorNames.add(sensor.name);
      for (const s of sources(sensor.state, decodeNumber(sensor.path))) {
        add(s.topic, { kind: 'sensor', name: sensor.name, decode: s.decode });
      }
    }
    for (const [index, a] of this.#availabilityTopics.entries()) add(a.topic, { kind: 'availability', index });
    for (const q of map.queries ?? []) {
      publishable(q.topic, 'query topic');
      if (q.response !== undefined && !this.#routes.has(q.response)) this.#routes.set(q.response, []);
    }
    return { pins, sensors: [...this.#sensorNames] };
  }

  // ------------------------------------------------------------ connection

  async #onConnect(): Promise<void> {
    if (this.#closed) return;
    const generation = ++this.#generation;
    this.#synced = false;
    const current = () => generation === this.#generation && !this.#closed;
    // Commands and their confirmations are single small packets: without
    // TCP_NODELAY, Nagle's algorithm holds them back behind delayed ACKs.
    (this.client.stream as { setNoDelay?: (noDelay: boolean) => unknown } | undefined)?.setNoDelay?.(true);
    try {
      const granted = await this.#router.subscribe([...this.#routes.keys(), this.#syncTopic], this.#qos);
      if (!current()) return;
      // 128 (0x80) is the broker's refusal of one topic (an ACL).
      const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
      if (refused.length > 0) {
        this.emit(
          'error',
          new BoardcastError(
            'forbidden',
            `board "${this.id}": the broker refused subscriptions to ${refused.join(', ')}`,
            {
              details: { board: this.id, topics: refused },
            },
          ),
        );
      }
      // Retained messages follow the SUBACK; a marker we publish now comes
      // back after them, so once it is here the retained state is complete.
      await this.#barrier(current);
    } catch (error) {
      if (current()) this.emit('error', error);
      return;
    }
    if (!current()) return;
    this.#synced = true;
    if (this.#availabilityTopics.length === 0 || this.#available === true) await this.#activate(generation);
  }

  /**
   * Resolves when our marker comes back, when the resync times out, or when
   * the connection it belongs to is gone (`#onDisconnect` and `close()` end it
   * early). A barrier of a lost connection never reports an error and never
   * touches the waiter of the connection that replaced it.
   */
  #barrier(current: () => boolean): Promise<void> {
    const marker = Math.random().toString(36).slice(2);
    return new Promise<void>((resolve) => {
      const waiter = {
        marker,
        resolve: () => {
          clearTimeout(timer);
          if (this.#syncWaiter === waiter) this.#syncWaiter = undefined;
          resolve();
        },
      };
      const timer = setTimeout(() => {
        waiter.resolve();
        if (!current()) return;
        this.emit(
          'error',
          new BoardcastError(
            'timeout',
            `board "${this.id}": sync marker on ${this.#syncTopic} did not come back (ACL?); continuing without it`,
          ),
        );
      }, this.#resyncTimeoutMs);
      this.#syncWaiter?.resolve();
      this.#syncWaiter = waiter;
      // Same QoS as the subscriptions: a QoS 0 marker could overtake QoS 1
      // retained messages the broker holds back behind its in-flight window.
      this.client.publish(this.#syncTopic, marker, { qos: this.#qos, retain: false });
    });
  }

  /** The device is reachable: ask it for what it does not retain, wait for the answers, then go online. */
  async #activate(generation: number): Promise<void> {
    const current = () => generation === this.#generation && !this.#closed;
    const pending: Promise<unknown>[] = [];
    for (const [key, out] of this.#outputs) {
      if (!out.query) continue;
      pending.push(this.#waitLevel(key, undefined, this.#resyncTimeoutMs, undefined, () => this.#noAnswer(key)));
    }
    for (const q of this.#topics.queries ?? []) {
      if (q.response !== undefined) pending.push(this.#waitTopic(q.response));
    }
    for (const [, out] of this.#outputs) if (out.query) this.#publish(out.query.topic, out.query.payload);
    for (const q of this.#topics.queries ?? []) this.#publish(q.topic, q.payload);
    const results = await Promise.allSettled(pending);
    if (!current()) return;
    for (const r of results) if (r.status === 'rejected') this.emit('error', r.reason);
    if (this.#status === 'online') return;
    this.#status = 'online';
    this.emit('status', 'online');
  }

  #waitTopic(topic: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry = {
        topic,
        resolve: () => {
          clearTimeout(timer);
          this.#topicWaiters.delete(entry);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#topicWaiters.delete(entry);
        reject(
          new BoardcastError('timeout', `board "${this.id}": no answer on ${topic} within ${this.#resyncTimeoutMs} ms`),
        );
      }, this.#resyncTimeoutMs);
      this.#topicWaiters.add(entry);
    });
  }

  #noAnswer(key: string): BoardcastError {
    return new BoardcastError(
      'timeout',
      `board "${this.id}" pin ${key}: no state report within ${this.#resyncTimeoutMs} ms of the resync query`,
    );
  }

  #onDisconnect(): void {
    if (this.#closed) return;
    this.#generation++;
    this.#synced = false;
    this.#syncWaiter?.resolve();
    // What the broker said about the device is stale now; a broker that lost
    // its retained messages must not leave us believing an old `Online`.
    this.#available = undefined;
    this.#availableBy.clear();
    this.#goOffline();
  }

  #goOffline(): void {
    this.#failAll(
      new BoardcastError('board_offline', `board "${this.id}" is offline`, { details: { board: this.id } }),
    );
    if (this.#status === 'offline') return;
    this.#status = 'offline';
    this.emit('status', 'offline');
  }

  #setAvailable(available: boolean): void {
    const previous = this.#available;
    this.#available = available;
    if (!available) {
      this.#generation++;
      this.#goOffline();
      return;
    }
    if (!this.#synced) return; // #onConnect activates once the retained messages are in
    // Online again, or an `Online` while online (the device restarted and its
    // relays may have changed): ask it again.
    const generation = previous === true ? this.#generation : ++this.#generation;
    void this.#activate(generation);
  }

  // ------------------------------------------------------------ messages

  #onMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (this.#closed) return;
    if (topic === this.#syncTopic) {
      if (this.#syncWaiter && payload.toString() === this.#syncWaiter.marker) this.#syncWaiter.resolve();
      return;
    }
    const routes = this.#routes.get(topic);
    if (!routes) return;
    if (payload.length > this.#maxPayloadBytes) {
      this.emit(
        'error',
        new BoardcastError(
          'payload_too_large',
          `board "${this.id}": ${payload.length} bytes on ${topic} exceed ${this.#maxPayloadBytes}`,
          { details: { board: this.id, topic } },
        ),
      );
      return;
    }
    const text = payload.toString('utf8');
    let failure: unknown;
    // Answers count once they have been applied (below), so `online` follows the state.
    const answered = [...this.#topicWaiters].filter((w) => w.topic === topic);
    for (const route of routes) {
      try {
        if (route.kind === 'availability') this.#availability(text, topic, route.index);
        else if (route.kind === 'level') {
          const level = route.decode(text, topic);
          if (level !== undefined) this.#report(route.key, level);
        } else {
          const value = route.decode(text, topic);
          if (value !== undefined) this.#reading(route.name, value, retained);
        }
      } catch (error) {
        // One report per message, however many pins read the same topic.
        failure ??= error;
      }
    }
    for (const w of answered) w.resolve();
    if (failure !== undefined) {
      this.emit(
        'error',
        failure instanceof BoardcastError
          ? failure
          : new BoardcastError('invalid_payload', `board "${this.id}": message on ${topic} could not be read`, {
              cause: failure,
            }),
      );
    }
  }

  #availability(text: string, topic: string, index: number): void {
    const a = this.#availabilityTopics[index];
    if (!a) return;
    const word = a.decode ? a.decode(text, topic) : text;
    if (word === undefined) return;
    let available: boolean;
    if (word === (a.online ?? 'online')) available = true;
    else if (word === (a.offline ?? 'offline')) available = false;
    else {
      throw new BoardcastError(
        'invalid_payload',
        `"${word.slice(0, 40)}" on ${topic} is neither "${a.online ?? 'online'}" nor "${a.offline ?? 'offline'}"`,
        { details: { board: this.id, topic } },
      );
    }
    this.#availableBy.set(index, available);
    const mode = this.#topics.availabilityMode ?? 'latest';
    const all = this.#availabilityTopics.length;
    const said = [...this.#availableBy.values()];
    let combined: boolean | undefined = available;
    if (mode === 'all') {
      combined = said.includes(false) ? false : said.length === all ? true : undefined;
    } else if (mode === 'any') {
      combined = said.includes(true) ? true : said.length === all ? false : undefined;
    }
    if (combined !== undefined) this.#setAvailable(combined);
  }

  #report(key: string, level: Level): void {
    const previous = this.#levels.get(key);
    this.#levels.set(key, level);
    for (const waiter of [...this.#waiters]) {
      if (waiter.key === key && (waiter.want === undefined || waiter.want === level)) waiter.resolve(level);
    }
    if (previous === level) return;
    const pin = this.#outputs.get(key)?.pin ?? this.capabilities.pins.find((p) => keyOf(p.pin) === key)?.pin ?? key;
    const at = Date.now();
    this.emit('change', { pin, value: level, at });
    for (const w of [...this.#watchers]) if (w.key === key) w.debouncer.input(level);
  }

  /**
   * A retained message is the broker's copy of an old report, delivered
   * again on every (re)subscribe: it restores `readings` and answers
   * `readSensor`, but it is not a new reading, so no `reading` event — a
   * reconnect must not report a value from hours ago as measured now.
   */
  #reading(name: string, value: number, retained: boolean): void {
    const reading: SensorReading = { sensor: name, value, at: Date.now() };
    this.#readings.set(name, reading);
    for (const w of [...this.#sensorWaiters]) if (w.name === name) w.resolve(value);
    if (!retained) this.emit('reading', reading);
  }

  // ------------------------------------------------------------ helpers

  /** Throws for an aborted signal or a passed deadline; returns how long the operation may wait (ms). */
  #checkOperation(options: OperationOptions): number {
    if (options.signal?.aborted) throw abortReason(options.signal);
    let waitMs = this.#commandTimeoutMs;
    if (options.deadline !== undefined) {
      const left = options.deadline - performance.now();
      if (!(left > 0)) throw new BoardcastError('timeout', `board "${this.id}": the operation's deadline has passed`);
      waitMs = Math.min(waitMs, left);
    }
    return waitMs;
  }

  #requireOnline(): void {
    if (this.#closed) throw new BoardcastError('closed', `board "${this.id}" is closed`);
    if (this.#status !== 'online' || !this.client.connected) {
      throw new BoardcastError('board_offline', `board "${this.id}" is offline`, { details: { board: this.id } });
    }
  }

  #waitLevel(
    key: string,
    want: Level | undefined,
    waitMs: number,
    signal: AbortSignal | undefined,
    onTimeout: () => BoardcastError,
  ): Promise<Level> {
    return new Promise<Level>((resolve, reject) => {
      const waiter: Waiter = {
        key,
        want,
        resolve: (level) => {
          done();
          resolve(level);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const timer = setTimeout(() => waiter.reject(onTimeout()), waitMs);
      const onAbort = () => waiter.reject(abortReason(signal as AbortSignal));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(waiter);
      };
      this.#waiters.add(waiter);
    });
  }

  #failAll(error: BoardcastError): void {
    for (const w of [...this.#waiters]) w.reject(error);
    for (const w of [...this.#sensorWaiters]) w.reject(error);
  }

  /**
   * QoS 0 on purpose: MQTT.js keeps a QoS 1 message it has not had a PUBACK
   * for and sends it again after a reconnect, which could switch a relay
   * long after its caller was told `timeout`.
   */
  #publish(topic: string, payload: string): void {
    this.client.publish(topic, payload, { qos: 0, retain: false }, (error) => {
      if (error) this.emit('error', error);
    });
  }

  #unsupported(pin: Pin, what: string): BoardcastError {
    return new BoardcastError('unsupported', `board "${this.id}" pin ${keyOf(pin)}: ${what}`, {
      details: { board: this.id, pin },
    });
  }

  #clientError(error: Error & { code?: unknown }): BoardcastError {
    // Already typed: an oversized packet refused by connectMqtt's guard.
    if (error instanceof BoardcastError) return error;
    // CONNACK refusals: 4/5 in MQTT 3.1.1, 134/135 in MQTT 5.
    if (error.code === 4 || error.code === 5 || error.code === 134 || error.code === 135) {
      return new BoardcastError(
        'unauthorized',
        `board "${this.id}": the broker refused the connection (${error.message})`,
        {
          cause: error,
        },
      );
    }
    return new BoardcastError('network_error', `board "${this.id}": MQTT: ${error.message}`, { cause: error });
  }
}
