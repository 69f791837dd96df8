import type { Duplex } from 'node:stream';
import { BoardcastError } from '@boardcast/core';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { MQTT_MAX_PACKET_SIZE, PacketSizeGuard } from './packet-size.js';

/** Default `maximumPacketSize` of `connectMqtt`: 128 KiB (a 64 KiB payload plus room for the topic and properties). */
export const DEFAULT_MAXIMUM_PACKET_SIZE = 131_072;

export interface ConnectMqttOptions extends IClientOptions {
  /**
   * The largest MQTT packet this client accepts from the broker, in bytes
   * (default 131072 = 128 KiB; at most 268435460, MQTT's own limit).
   *
   * - MQTT 5 (`protocolVersion: 5`): announced in CONNECT as Maximum
   *   Packet Size (MQTT 5 §3.1.2.11.4); the broker then never sends a
   *   larger packet to this client (mosquitto ≥ 2.0 drops it for us).
   * - Every version: the connection is dropped with `payload_too_large`
   *   (an `error` event on the client) as soon as a packet header announces
   *   more, before the body is read — MQTT.js 5 itself would read the whole
   *   packet into memory first. MQTT 3.1.1 has no way to tell the broker,
   *   so there the broker still sends it and the client reconnects.
   */
  readonly maximumPacketSize?: number;
}

type StreamBuilder = (client: MqttClient) => Duplex;

/**
 * `mqtt.connect(url, options)` with a bound on incoming packets (see
 * `maximumPacketSize`): what `MqttBoard` uses with `url`, and the client
 * to give `bridgeHub` and `discoverDevices`. Throws `BoardcastError`
 * `invalid_payload` for a bad `maximumPacketSize`.
 */
export function connectMqtt(url: string, options: ConnectMqttOptions = {}): MqttClient {
  const { maximumPacketSize, ...mqttOptions } = options;
  const limit = maximumPacketSize ?? mqttOptions.properties?.maximumPacketSize ?? DEFAULT_MAXIMUM_PACKET_SIZE;
  if (!Number.isInteger(limit) || limit < 2 || limit > MQTT_MAX_PACKET_SIZE) {
    throw new BoardcastError(
      'invalid_payload',
      `maximumPacketSize must be an integer of bytes from 2 to ${MQTT_MAX_PACKET_SIZE}, got ${String(limit)}`,
    );
  }
  const manual = mqttOptions.manualConnect === true;
  const client = connect(url, {
    ...mqttOptions,
    ...(mqttOptions.protocolVersion === 5
      ? { properties: { ...mqttOptions.properties, maximumPacketSize: limit } }
      : {}),
    manualConnect: true,
  });
  // MQTT.js builds a new stream for every (re)connect with this function;
  // putting the guard between it and the parser is the custom-stream hook
  // MQTT.js offers (`new MqttClient(streamBuilder, options)`).
  const holder = client as unknown as { streamBuilder?: StreamBuilder };
  const build = holder.streamBuilder;
  if (typeof build !== 'function') {
    client.end(true);
    throw new Error('this MQTT.js version has no streamBuilder; @boardcast/mqtt needs mqtt ^5.16');
  }
  holder.streamBuilder = (c) => new PacketSizeGuard(build(c), limit);
  if (!manual) client.connect();
  return client;
}
