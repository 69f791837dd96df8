import { describe, expect, it } from 'vitest';
import { MqttBoard, type TopicMap } from '../src/index.js';
import { client, mosquittoPath, useMosquitto } from './broker.js';
import { waitFor } from './devices.js';

/** A zigbee2mqtt-style device: its own availability and the bridge's, both required. */
function zigbee(name: string): TopicMap {
  const word = (payload: string) => (JSON.parse(payload) as { state?: string }).state;
  return {
    sensors: [{ name: 'temperature', state: `z2m/${name}`, path: 'temperature' }],
    availability: [
      { topic: 'z2m/bridge/state', decode: word },
      { topic: `z2m/${name}/availability`, decode: word },
    ],
    availabilityMode: 'all',
  };
}

describe.skipIf(!mosquittoPath)('many boards on one client', () => {
  const suite = useMosquitto();

  it("a board added later still gets a shared topic's retained state, and closing one board keeps the topic for the others", async () => {
    const shared = await client(suite.broker.url);
    suite.defer(() => shared.endAsync());
    const device = await client(suite.broker.url);
    suite.defer(() => device.endAsync());
    for (const t of ['z2m/bridge/state', 'z2m/a/availability', 'z2m/b/availability']) {
      await device.publishAsync(t, '{"state":"online"}', { retain: true, qos: 1 });
      suite.defer(() => device.publishAsync(t, '', { retain: true, qos: 1 }));
    }
    const a = new MqttBoard({ id: 'a', client: shared, topics: zigbee('a') });
    suite.defer(() => a.close());
    await waitFor(() => a.status === 'online', 'a online');
    // b subscribes to z2m/bridge/state again on the same client: MQTT.js
    // alone would skip it, and b would never see the retained "online".
    const b = new MqttBoard({ id: 'b', client: shared, topics: zigbee('b') });
    suite.defer(() => b.close());
    await waitFor(() => b.status === 'online', 'b online');
    await a.close();
    await device.publishAsync('z2m/bridge/state', '{"state":"offline"}', { retain: true, qos: 1 });
    await waitFor(() => b.status === 'offline', 'b follows the bridge after a closed');
  });

  it('a hundred boards on one client: one listener per event on the client, no listener-leak warning', async () => {
    const shared = await client(suite.broker.url);
    suite.defer(() => shared.endAsync());
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    suite.defer(() => process.off('warning', onWarning));
    const before = shared.listenerCount('message');
    const boards = Array.from(
      { length: 100 },
      (_, i) =>
        new MqttBoard({ id: `s${i}`, client: shared, topics: { sensors: [{ name: 't', state: `many/${i}` }] } }),
    );
    suite.defer(() => Promise.all(boards.map((b) => b.close())));
    await waitFor(() => boards.every((b) => b.status === 'online'), 'all online');
    expect(shared.listenerCount('message') - before).toBe(1);
    expect(shared.listenerCount('connect')).toBeLessThanOrEqual(2);
    const pub = await client(suite.broker.url);
    suite.defer(() => pub.endAsync());
    await pub.publishAsync('many/42', '7.5');
    await waitFor(() => boards[42]?.readings.get('t')?.value === 7.5, 'the reading reaches its board');
    expect(boards.filter((b) => b.readings.size > 0).map((b) => b.id)).toEqual(['s42']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });
});
