export {
  type MosquittoProcess,
  type MosquittoTls,
  startMosquitto,
  useMosquitto,
} from '../../../test-support/mosquitto.js';
export { mosquittoPath } from '../../../test-support/system.js';

import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';

/** A plain MQTT.js client for the test itself (a spy on topics, or the app's client). */
export function client(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return connectAsync(url, { reconnectPeriod: 100, connectTimeout: 5000, ...options });
}

/** Collects `topic payload` lines of everything matching `filter`. */
export async function spy(url: string, filter: string | string[]): Promise<{ lines: string[]; client: MqttClient }> {
  const c = await client(url);
  const lines: string[] = [];
  c.on('message', (topic, payload) => lines.push(`${topic} ${payload.toString()}`));
  await c.subscribeAsync(filter, { qos: 1 });
  return { lines, client: c };
}
