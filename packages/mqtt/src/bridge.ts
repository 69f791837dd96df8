import {
  BoardcastError,
  type CommandName,
  type ContractSpec,
  Emitter,
  type EventName,
  type Hub,
} from '@boardcast/core';
import { logSafe } from '@boardcast/core/server';
import type { EncodedEvent } from '@boardcast/core/wire';
import type { IClientPublishOptions, IPublishPacket, MqttClient } from 'mqtt';

export interface BridgeOptions<C extends ContractSpec> {
  /**
   * Topic prefix (default `boardcast`). Events go to `<prefix>/events/<event>`,
   * the snapshot state to `<prefix>/state`, commands are taken from
   * `<prefix>/commands/<command>` and answered on `<prefix>/results/<command>`
   * (or on an MQTT 5 response topic the bridge answers on: `responseTopics`).
   * A prefix with `+`, `#` or NUL, empty or ending in `/` throws
   * `BoardcastError` `invalid_payload`.
   */
  readonly prefix?: string;
  /**
   * Where the bridge may publish a result when an MQTT 5 request names a
   * Response Topic: a topic prefix (`'clients'` allows `clients/<anything>`),
   * or a function `(responseTopic, command) => boolean`. Default: none —
   * every result goes to `<prefix>/results/<command>`.
   *
   * The bridge publishes with its own credentials, so a Response Topic is a
   * request to publish somewhere on the requester's behalf (a confused
   * deputy): without this bound, anyone allowed to send a command could make
   * the bridge publish to another device's `cmnd/…/POWER`, to the bridge's
   * own event and state topics, or to its own command topics. A request
   * whose Response Topic is not allowed is not run; it is answered
   * `forbidden` on `<prefix>/results/<command>`, and reported once per
   * topic as an `error` event (the first 16 topics, then one line saying
   * that further ones are not reported). The bridge's own `commands/`,
   * `events/` and `state` topics are refused whatever this allows.
   */
  readonly responseTopics?: string | ((responseTopic: string, command: string) => boolean);
  /** Events to publish (default all; `false` none). */
  readonly events?: readonly EventName<C>[] | false;
  /**
   * Publish events retained, so a subscriber that arrives later gets the
   * latest of each (default false; `true` for all, or a list of names).
   */
  readonly retain?: boolean | readonly EventName<C>[];
  /** Publish the hub's snapshot state, retained, on `<prefix>/state` after every change (default true). */
  readonly state?: boolean;
  /**
   * Commands MQTT clients may run (default all the contract's commands;
   * `false` none). Anyone who may publish to the command topics can run
   * them: restrict that with the broker's ACL.
   */
  readonly commands?: readonly CommandName<C>[] | boolean;
  /** QoS of published events, state and results (default 0). Events are not queued while the broker is away. */
  readonly qos?: 0 | 1 | 2;
  /** Command messages larger than this are answered `payload_too_large` (default 65536 bytes). */
  readonly maxPayloadBytes?: number;
  /** Commands running at once; more are answered `too_many_requests` (default 32). */
  readonly maxInflight?: number;
}

export type MqttBridgeEvents = {
  /** Something no MQTT peer will see: a malformed command message, a failed publish, a retained command dropped. */
  error: (error: unknown, where: string) => void;
};

export interface MqttBridge extends Emitter<MqttBridgeEvents> {
  /** Topic prefix in use. */
  readonly prefix: string;
  /** Settles when the command topics are subscribed (at once when commands are off). */
  readonly ready: Promise<void>;
  /** Stop publishing and taking commands; the client stays open (it is yours). */
  close(): Promise<void>;
}

/** How many distinct refused response topics are reported before the bridge stops reporting them. */
const MAX_REFUSED_REPORTED = 16;

class Bridge<C extends ContractSpec> extends Emitter<MqttBridgeEvents> implements MqttBridge {
  readonly prefix: string;
  ready: Promise<void> = Promise.resolve();
  readonly #hub: Hub<C>;
  readonly #client: MqttClient;
  readonly #undo: (() => void)[] = [];
  readonly #qos: 0 | 1 | 2;
  readonly #maxPayloadBytes: number;
  readonly #maxInflight: number;
  readonly #commands: ReadonlySet<string> | true | false;
  readonly #commandFilter: string;
  readonly #responseTopics: ((topic: string, command: string) => boolean) | undefined;
  /** Response topics already reported as refused (bounded: a peer may try many). */
  readonly #refusedReported = new Set<string>();
  #inflight = 0;
  #statePending = false;
  #closed = false;

  constructor(hub: Hub<C>, client: MqttClient, options: BridgeOptions<C>) {
    super();
    const prefix = options.prefix ?? 'boardcast';
    if (typeof prefix !== 'string' || prefix === '' || /[+#\0]/.test(prefix) || prefix.endsWith('/')) {
      throw new BoardcastError(
        'invalid_payload',
        `bridge prefix "${logSafe(String(prefix))}" must be a topic without +, #, NUL or a trailing /`,
      );
    }
    const allowed = options.responseTopics;
    if (typeof allowed === 'string') {
      if (allowed === '' || /[+#\0]/.test(allowed) || allowed.endsWith('/')) {
        throw new BoardcastError(
          'invalid_payload',
          `responseTopics "${logSafe(allowed)}" must be a topic prefix without +, #, NUL or a trailing /`,
        );
      }
      this.#responseTopics = (topic) => topic.startsWith(`${allowed}/`);
    } else if (typeof allowed === 'function') {
      this.#responseTopics = allowed;
    } else if (allowed !== undefined) {
      throw new BoardcastError('invalid_payload', 'responseTopics must be a topic prefix or a function');
    }
    this.prefix = prefix;
    this.#hub = hub;
    this.#client = client;
    this.#qos = options.qos ?? 0;
    this.#maxPayloadBytes = options.maxPayloadBytes ?? 65_536;
    this.#maxInflight = options.maxInflight ?? 32;
    const commands = options.commands ?? true;
    this.#commands = typeof commands === 'boolean' ? commands : new Set(commands as readonly string[]);
    this.#commandFilter = `${prefix}/commands/+`;

    const events = options.events === false ? undefined : options.events ? new Set<string>(options.events) : 'all';
    const retain = options.retain ?? false;
    const retained = typeof retain === 'boolean' ? retain : new Set<string>(retain as readonly string[]);
    if (events) {
      this.#undo.push(
        hub.subscribe((event) => {
          if (events !== 'all' && !events.has(event.event)) return;
          this.#publishEvent(event, retained === true || (retained !== false && retained.has(event.event)));
        }),
      );
    }
    // A closed hub publishes nothing and runs nothing: stop listening with it.
    this.#undo.push(hub.on('close', () => void this.close()));
    if (options.state ?? true) {
      this.#undo.push(hub.on('state', () => this.#scheduleState()));
      const onConnect = () => this.#scheduleState();
      client.on('connect', onConnect);
      this.#undo.push(() => client.off('connect', onConnect));
      this.#scheduleState();
    }
    if (this.#commands !== false) {
      const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket) =>
        this.#onMessage(topic, payload, packet);
      client.on('message', onMessage);
      this.#undo.push(() => client.off('message', onMessage));
      // Retain-As-Published (MQTT 5): the broker keeps the RETAIN flag on a
      // retained command published while we are subscribed, so it can be
      // refused like one replayed on subscribe. MQTT 3.1.1 has no such
      // option: a broker clears the flag on live delivery (see the README).
      const subscribe = () =>
        client
          .subscribeAsync(this.#commandFilter, {
            qos: 1,
            ...(client.options.protocolVersion === 5 ? { rap: true } : {}),
          })
          .then(() => undefined);
      // MQTT.js resubscribes after a reconnect by itself only for a session
      // it remembers; subscribing again on every connect costs nothing.
      const onConnect = () => void subscribe().catch((error) => this.emit('error', error, 'subscribe'));
      client.on('connect', onConnect);
      this.#undo.push(() => client.off('connect', onConnect));
      this.ready = client.connected
        ? subscribe()
        : new Promise((resolve, reject) => client.once('connect', () => void subscribe().then(resolve, reject)));
      this.ready.catch((error) => this.emit('error', error, 'subscribe'));
    }
  }

  #publish(topic: string, payload: string, options: IClientPublishOptions, where: string): void {
    // Only while connected: MQTT.js would otherwise queue without bound
    // while the broker is away and flood it with stale events on return.
    if (this.#closed || !this.#client.connected) return;
    this.#client.publish(topic, payload, options, (error) => {
      if (error) this.emit('error', error, where);
    });
  }

  #publishEvent(event: EncodedEvent, retain: boolean): void {
    const options: IClientPublishOptions = { qos: this.#qos, retain };
    // MQTT 5 peers get the event id (the SSE/WS id) as a user property.
    if (this.#client.options.protocolVersion === 5) options.properties = { userProperties: { id: event.id } };
    this.#publish(`${this.prefix}/events/${event.event}`, event.json, options, `event "${event.event}"`);
  }

  #scheduleState(): void {
    if (this.#statePending) return;
    this.#statePending = true;
    // Many events in one tick change the state many times; publish the last one.
    setImmediate(() => {
      this.#statePending = false;
      this.#publish(`${this.prefix}/state`, this.#hub.snapshot().json, { qos: this.#qos, retain: true }, 'state');
    });
  }

  #onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    const head = `${this.prefix}/commands/`;
    if (this.#closed || !topic.startsWith(head)) return;
    const command = topic.slice(head.length);
    if (command === '' || command.includes('/')) return;
    const results = `${this.prefix}/results/${command}`;
    const asked = packet.properties?.responseTopic;
    // A peer's response topic is published to with the bridge's connection:
    // one with a wildcard (or empty, or with NUL) is a protocol error the
    // broker answers by dropping that connection, the app's boards included.
    const badReply = asked !== undefined && (asked === '' || /[+#\0]/.test(asked));
    const refusedReply = asked !== undefined && !badReply && !this.#answersOn(asked, command);
    const replyTopic = asked !== undefined && !badReply && !refusedReply ? asked : results;
    const correlationData = packet.properties?.correlationData;
    const reply = (body: string) => {
      const options: IClientPublishOptions = { qos: this.#qos, retain: false };
      if (correlationData !== undefined && this.#client.options.protocolVersion === 5) {
        options.properties = { correlationData };
      }
      this.#publish(replyTopic, body, options, `result of "${command}"`);
    };
    const fail = (error: BoardcastError) => reply(JSON.stringify({ ok: false, error: error.toJSON() }));

    if (packet.retain) {
      // A retained command would run again every time this bridge
      // (re)subscribes: never run it, and say why.
      this.emit(
        'error',
        new BoardcastError(
          'invalid_payload',
          `retained message on ${logSafe(topic)} ignored: commands must not be retained`,
        ),
        'command',
      );
      return;
    }
    if (badReply) {
      const error = new BoardcastError(
        'invalid_payload',
        `command "${logSafe(command)}": response topic "${logSafe(asked)}" is not a topic one can publish to`,
      );
      this.emit('error', error, 'command');
      fail(error);
      return;
    }
    if (refusedReply) {
      const error = new BoardcastError(
        'forbidden',
        `command "${logSafe(command)}": this bridge does not answer on response topic "${logSafe(asked)}" (see responseTopics)`,
        { details: { command, responseTopic: asked } },
      );
      this.#reportRefused(asked, error);
      fail(error);
      return;
    }
    if (this.#commands !== true && (this.#commands === false || !this.#commands.has(command))) {
      fail(new BoardcastError('unknown_command', `command "${logSafe(command)}" is not open to MQTT`));
      return;
    }
    if (payload.length > this.#maxPayloadBytes) {
      const error = new BoardcastError(
        'payload_too_large',
        `command "${logSafe(command)}": ${payload.length} bytes exceed ${this.#maxPayloadBytes}`,
      );
      this.emit('error', error, 'command');
      fail(error);
      return;
    }
    let input: unknown;
    const text = payload.toString('utf8');
    try {
      input = text.trim() === '' ? undefined : (JSON.parse(text) as unknown);
    } catch (cause) {
      const error = new BoardcastError('invalid_payload', `command "${logSafe(command)}": the message is not JSON`, {
        cause,
      });
      this.emit('error', error, 'command');
      fail(error);
      return;
    }
    if (this.#inflight >= this.#maxInflight) {
      fail(new BoardcastError('too_many_requests', `more than ${this.#maxInflight} MQTT commands at once`));
      return;
    }
    this.#inflight++;
    void this.#hub
      .dispatch(command, input, { transport: 'mqtt' })
      .then((result) => {
        if (result.ok) reply(`{"ok":true,"data":${result.json}}`);
        else fail(result.error);
      })
      .finally(() => {
        this.#inflight--;
      });
  }

  /** Whether a result may go to `topic`: never the bridge's own inputs or outputs, else what `responseTopics` allows. */
  #answersOn(topic: string, command: string): boolean {
    const p = this.prefix;
    if (topic === `${p}/state` || topic.startsWith(`${p}/commands/`) || topic.startsWith(`${p}/events/`)) return false;
    if (topic === `${p}/results/${command}`) return true;
    if (!this.#responseTopics) return false;
    try {
      return this.#responseTopics(topic, command) === true;
    } catch (error) {
      this.emit('error', error, 'responseTopics');
      return false;
    }
  }

  #reportRefused(topic: string, error: BoardcastError): void {
    if (this.#refusedReported.has(topic) || this.#refusedReported.size > MAX_REFUSED_REPORTED) return;
    this.#refusedReported.add(topic);
    if (this.#refusedReported.size > MAX_REFUSED_REPORTED) {
      this.emit(
        'error',
        new BoardcastError(
          'forbidden',
          `more than ${MAX_REFUSED_REPORTED} refused response topics; further ones are refused without a report`,
        ),
        'command',
      );
      return;
    }
    this.emit('error', error, 'command');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const fn of this.#undo) fn();
    if (this.#commands !== false && this.#client.connected) {
      await this.#client.unsubscribeAsync(this.#commandFilter).catch(() => undefined);
    }
  }
}

/**
 * Bridge a hub to an MQTT broker, so Node-RED, Home Assistant or any other
 * program on the broker can follow and drive a boardcast app:
 *
 * | direction | topic | payload |
 * |---|---|---|
 * | hub → MQTT | `<prefix>/events/<event>` | the event's data as JSON (MQTT 5: user property `id`) |
 * | hub → MQTT | `<prefix>/state` (retained) | the snapshot state as JSON |
 * | MQTT → hub | `<prefix>/commands/<command>` | the command's input as JSON |
 * | hub → MQTT | response topic, or `<prefix>/results/<command>` | `{"ok":true,"data":…}` or `{"ok":false,"error":{"code","message"}}` |
 *
 * Commands run through `hub.dispatch` with transport `mqtt`, so validation,
 * timeouts and the hub's `command` log apply as for HTTP and WebSocket.
 * The client is yours: `close()` removes the bridge, not the connection.
 */
export function bridgeHub<C extends ContractSpec>(
  hub: Hub<C>,
  client: MqttClient,
  options: BridgeOptions<C> = {},
): MqttBridge {
  return new Bridge(hub, client, options);
}
