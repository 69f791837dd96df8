import { describe, expect, it } from 'vitest';
import { useMosquitto } from '../../../test-support/mosquitto.js';
import { mosquittoPath } from '../../../test-support/system.js';
import { parseSensorTopic, startMqttIngest } from '../src/mqtt-ingest.js';
import { start, waitFor } from './helpers.js';

describe('parseSensorTopic', () => {
  it('splits sensor, topic and JSON path', () => {
    expect(parseSensorTopic('temperature=tele/kitchen/SENSOR:AM2301.Temperature')).toEqual([
      'temperature',
      { topic: 'tele/kitchen/SENSOR', path: 'AM2301.Temperature' },
    ]);
    expect(parseSensorTopic('humidity=kitchen/sensor/humidity/state')).toEqual([
      'humidity',
      { topic: 'kitchen/sensor/humidity/state' },
    ]);
    expect(() => parseSensorTopic('pressure=a/b')).toThrow(TypeError);
    expect(() => parseSensorTopic('temperature=')).toThrow(TypeError);
  });
});

describe.skipIf(!mosquittoPath)('sensor dashboard: readings from MQTT topics', () => {
  const suite = useMosquitto();

  it('Tasmota JSON and plain number topics reach the dashboard through ingest; bad values are refused', async () => {
    const dashboard = await start({ token: 'tok' });
    suite.defer(() => dashboard.close());
    const errors: string[] = [];
    const ingest = startMqttIngest({
      url: suite.broker.url,
      sensors: {
        temperature: { topic: 'tele/kitchen/SENSOR', path: 'AM2301.Temperature' },
        humidity: { topic: 'esp/sensor/humidity/state' },
      },
      ingestUrl: `${dashboard.url}/api/readings`,
      token: 'tok',
      onError: (e) => errors.push(e instanceof Error ? e.message : String(e)),
    });
    suite.defer(() => ingest.close());
    await waitFor(() => ingest.board.status === 'online', 'ingest connected');
    // The ingest's own MQTT.js client stands in for the devices' connections.
    const device = ingest.board.client;

    await device.publishAsync('tele/kitchen/SENSOR', '{"Time":"2026-11-29T10:00:00","AM2301":{"Temperature":21.4}}');
    await device.publishAsync('esp/sensor/humidity/state', '48.5');
    const sensors = () => dashboard.hub.state.sensors;
    await waitFor(
      () => sensors().temperature.stats.last?.value === 21.4 && sensors().humidity.stats.last?.value === 48.5,
      'readings on the dashboard',
    );
    expect(dashboard.hub.state.device.readings).toBe(2);

    // Out of the sensor's physical range: ingest refuses it, nothing stored.
    await device.publishAsync('tele/kitchen/SENSOR', '{"AM2301":{"Temperature":900}}');
    // Not a number at all: the board reports it, nothing is sent.
    await device.publishAsync('esp/sensor/humidity/state', 'wet');
    // `Number('0x10')` is 16; a plain-number topic is decimal only (issue 27).
    await device.publishAsync('esp/sensor/humidity/state', '0x10');
    await waitFor(() => errors.length === 3, 'three errors');
    expect(errors.some((m) => /refused/.test(m))).toBe(true);
    expect(errors.filter((m) => /not a number/.test(m))).toHaveLength(2);
    expect(sensors().humidity.stats.last?.value).toBe(48.5);
    expect(sensors().temperature.stats.last?.value).toBe(21.4);

    await device.publishAsync('esp/sensor/humidity/state', '50');
    await waitFor(() => sensors().humidity.stats.last?.value === 50, 'still working');
  });
});
