/**
 * Readings from MQTT sensor topics (a Tasmota `tele/<t>/SENSOR`, an ESPHome
 * `<node>/sensor/<id>/state`, any sketch publishing a number) into the
 * dashboard, through the same `POST /api/readings` route a device uses: the
 * same validation (ranges, order), the same token, the same `device` status.
 * Each topic feeds one sensor of one device (`?device=` on the request).
 * One request in flight at a time per device; what arrives meanwhile goes in
 * the next request as a batch, so a burst never queues requests and a quiet
 * sensor adds no delay.
 */
import { isChannelId } from '@boardcast/core';
import { MqttBoard, type MqttBoardOptions, type SensorTopics } from '@boardcast/mqtt';
import { MAX_BATCH } from './contract.js';
import { SENSOR_NAMES, type SensorName } from './sensors.js';

/** Readings waiting for the ingest route per device, at most (10 full batches). */
const MAX_PENDING = MAX_BATCH * 10;

/** One topic feeding one sensor of one device. */
export interface MqttSensorTopic {
  /** The dashboard device (a channel id); omitted: the default device, as a device posting no id. */
  readonly device?: string | undefined;
  readonly sensor: SensorName;
  /** The MQTT topic (`tele/kitchen/SENSOR`). */
  readonly topic: string;
  /** Dot path into a JSON payload (`AM2301.Temperature`); omitted: the payload is a plain number. */
  readonly path?: string | undefined;
}

export interface MqttIngestOptions {
  /** Broker URL (`mqtt://host:1883`, `mqtts://user:pass@host:8883`). */
  readonly url: string;
  /** Passed to MQTT.js (username, password, TLS files …). */
  readonly mqtt?: MqttBoardOptions['mqtt'];
  /** Which topic feeds which sensor of which device. */
  readonly sensors: readonly MqttSensorTopic[];
  /** The dashboard's ingest route (`http://127.0.0.1:3001/api/readings`). */
  readonly ingestUrl: string;
  /** Bearer token, when the dashboard requires one. */
  readonly token?: string | undefined;
  /** Refused readings, unreadable messages, an unreachable broker (default `console.error`). */
  readonly onError?: (error: unknown) => void;
}

export interface MqttIngest {
  /** One MQTT board per device, keyed by device id (`''` for the default device). */
  readonly boards: ReadonlyMap<string, MqttBoard>;
  close(): Promise<void>;
}

/**
 * `[<device>/]<sensor>=<topic>[:<json.path>]` → one {@link MqttSensorTopic}:
 * `kitchen/temperature=tele/kitchen/SENSOR:AM2301.Temperature`,
 * `humidity=kitchen/sensor/humidity/state` (the default device). A device id
 * has no `/`, so the first `/` before `=` ends it. Throws `TypeError` naming
 * what is wrong.
 */
export function parseSensorTopic(spec: string): MqttSensorTopic {
  const eq = spec.indexOf('=');
  const head = eq < 0 ? '' : spec.slice(0, eq);
  const slash = head.indexOf('/');
  const device = slash < 0 ? undefined : head.slice(0, slash);
  const name = slash < 0 ? head : head.slice(slash + 1);
  if (eq < 1 || !(SENSOR_NAMES as string[]).includes(name)) {
    throw new TypeError(
      `"${spec}": expected [<device>/]<sensor>=<topic>[:<json.path>], sensor one of ${SENSOR_NAMES.join(', ')}`,
    );
  }
  if (device !== undefined && !isChannelId(device)) {
    throw new TypeError(`"${spec}": "${device}" is not a device id (letters, digits, then also _ . : -)`);
  }
  const rest = spec.slice(eq + 1);
  const colon = rest.lastIndexOf(':');
  // A path never contains "/", so "a/b:c" splits and "a:b/c" is a topic.
  const split = colon > 0 && !rest.slice(colon + 1).includes('/');
  const topic = split ? rest.slice(0, colon) : rest;
  if (topic === '') throw new TypeError(`"${spec}": the topic is empty`);
  return {
    ...(device === undefined ? {} : { device }),
    sensor: name as SensorName,
    topic,
    ...(split ? { path: rest.slice(colon + 1) } : {}),
  };
}

/** Subscribe to the topics and forward every reading to the ingest route, per device. */
export function startMqttIngest(options: MqttIngestOptions): MqttIngest {
  const report = options.onError ?? ((error: unknown) => console.error('mqtt ingest:', error));
  const byDevice = new Map<string, MqttSensorTopic[]>();
  for (const entry of options.sensors) {
    const key = entry.device ?? '';
    byDevice.set(key, [...(byDevice.get(key) ?? []), entry]);
  }
  const boards = new Map<string, MqttBoard>();
  for (const [device, entries] of byDevice) {
    const sensors: SensorTopics[] = entries.map((s) =>
      s.path === undefined ? { name: s.sensor, state: s.topic } : { name: s.sensor, state: s.topic, path: s.path },
    );
    const board = new MqttBoard({
      id: device === '' ? 'mqtt-sensors' : `mqtt-${device}`,
      url: options.url,
      ...(options.mqtt ? { mqtt: options.mqtt } : {}),
      topics: { sensors },
    });
    board.on('error', report);
    const target = new URL(options.ingestUrl);
    if (device !== '') target.searchParams.set('device', device);
    forward(board, target, options.token, report);
    boards.set(device, board);
  }
  return {
    boards,
    async close() {
      await Promise.all([...boards.values()].map((board) => board.close()));
    },
  };
}

function forward(board: MqttBoard, target: URL, token: string | undefined, report: (error: unknown) => void): void {
  const pending: { sensor: string; value: number; at: number }[] = [];
  let sending = false;
  const flush = async () => {
    if (sending || pending.length === 0) return;
    sending = true;
    const batch = pending.splice(0, MAX_BATCH);
    try {
      const response = await fetch(target, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
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
}
