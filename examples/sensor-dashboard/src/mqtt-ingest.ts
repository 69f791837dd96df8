/**
 * Readings from MQTT sensor topics (a Tasmota `tele/<t>/SENSOR`, an ESPHome
 * `<node>/sensor/<id>/state`, any sketch publishing a number) into the
 * dashboard, through the same `POST /api/readings` route a device uses: the
 * same validation (ranges, order), the same token, the same `device` status.
 * One request in flight at a time; what arrives meanwhile goes in the next
 * request as a batch, so a burst never queues requests and a quiet sensor
 * adds no delay.
 */
import { MqttBoard, type MqttBoardOptions, type SensorTopics } from '@boardcast/mqtt';
import { MAX_BATCH } from './contract.js';
import { SENSOR_NAMES, type SensorName } from './sensors.js';

/** Readings waiting for the ingest route, at most (10 full batches). */
const MAX_PENDING = MAX_BATCH * 10;

export interface MqttIngestOptions {
  /** Broker URL (`mqtt://host:1883`, `mqtts://user:pass@host:8883`). */
  readonly url: string;
  /** Passed to MQTT.js (username, password, TLS files …). */
  readonly mqtt?: MqttBoardOptions['mqtt'];
  /** Dashboard sensor → topic, and the dot path when the payload is JSON (`tele/kitchen/SENSOR`, `AM2301.Temperature`). */
  readonly sensors: Readonly<Partial<Record<SensorName, { readonly topic: string; readonly path?: string }>>>;
  /** The dashboard's ingest route (`http://127.0.0.1:3001/api/readings`). */
  readonly ingestUrl: string;
  /** Bearer token, when the dashboard requires one. */
  readonly token?: string | undefined;
  /** Refused readings, unreadable messages, an unreachable broker (default `console.error`). */
  readonly onError?: (error: unknown) => void;
}

export interface MqttIngest {
  readonly board: MqttBoard;
  close(): Promise<void>;
}

/**
 * `temperature=tele/kitchen/SENSOR:AM2301.Temperature` or
 * `humidity=kitchen/sensor/humidity/state` → one entry of `sensors`.
 * Throws `TypeError` naming what is wrong.
 */
export function parseSensorTopic(spec: string): [SensorName, { topic: string; path?: string }] {
  const eq = spec.indexOf('=');
  const name = spec.slice(0, eq);
  if (eq < 1 || !(SENSOR_NAMES as string[]).includes(name)) {
    throw new TypeError(`"${spec}": expected <sensor>=<topic>[:<json.path>], sensor one of ${SENSOR_NAMES.join(', ')}`);
  }
  const rest = spec.slice(eq + 1);
  const colon = rest.lastIndexOf(':');
  // A path never contains "/", so "a/b:c" splits and "a:b/c" is a topic.
  const split = colon > 0 && !rest.slice(colon + 1).includes('/');
  const topic = split ? rest.slice(0, colon) : rest;
  if (topic === '') throw new TypeError(`"${spec}": the topic is empty`);
  return [name as SensorName, split ? { topic, path: rest.slice(colon + 1) } : { topic }];
}

export function startMqttIngest(options: MqttIngestOptions): MqttIngest {
  const report = options.onError ?? ((error: unknown) => console.error('mqtt ingest:', error));
  const sensors: SensorTopics[] = Object.entries(options.sensors).map(([name, s]) =>
    s?.path === undefined ? { name, state: s?.topic ?? '' } : { name, state: s.topic, path: s.path },
  );
  const board = new MqttBoard({
    id: 'mqtt-sensors',
    url: options.url,
    ...(options.mqtt ? { mqtt: options.mqtt } : {}),
    topics: { sensors },
  });
  board.on('error', report);

  const pending: { sensor: string; value: number; at: number }[] = [];
  let sending = false;
  const flush = async () => {
    if (sending || pending.length === 0) return;
    sending = true;
    const batch = pending.splice(0, MAX_BATCH);
    try {
      const response = await fetch(options.ingestUrl, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
        },
        body: JSON.stringify(batch),
      });
      if (!response.ok) report(new Error(`ingest refused ${batch.length} reading(s): ${await response.text()}`));
      else await response.arrayBuffer();
    } catch (error) {
      report(error);
    } finally {
      sending = false;
      void flush();
    }
  };
  board.on('reading', (reading) => {
    // Bounded: if the dashboard cannot keep up, the oldest readings go, and say so.
    if (pending.length >= MAX_PENDING) {
      const dropped = pending.splice(0, pending.length - MAX_PENDING + 1);
      report(new Error(`ingest is behind: dropped ${dropped.length} reading(s)`));
    }
    pending.push({ sensor: reading.sensor, value: reading.value, at: Math.round(reading.at) });
    void flush();
  });

  return {
    board,
    async close() {
      await board.close();
    },
  };
}
