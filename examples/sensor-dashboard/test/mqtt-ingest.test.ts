import { describe, expect, it } from 'vitest';
import { useMosquitto } from '../../../test-support/mosquitto.js';
import { mosquittoPath } from '../../../test-support/system.js';
import { parseSensorTopic, startMqttIngest } from '../src/mqtt-ingest.js';
import { start, waitFor } from './helpers.js';

describe('parseSensorTopic', () => {
  it('splits device, sensor, topic and JSON path', () => {
    expect(parseSensorTopic('temperature=tele/kitchen/SENSOR:AM2301.Temperature')).toEqual({
      sensor: 'temperature',
      topic: 'tele/kitchen/SENSOR',
      path: 'AM2301.Temperature',
    });
    expect(parseSensorTopic('humidity=kitchen/sensor/humidity/state')).toEqual({
      sensor: 'humidity',
      topic: 'kitchen/sensor/humidity/state',
    });
    expect(parseSensorTopic('kitchen/light=tele/kitchen/SENSOR:BH1750.Illuminance')).toEqual({
      device: 'kitchen',
      sensor: 'light',
      topic: 'tele/kitchen/SENSOR',
      path: 'BH1750.Illuminance',
    });
    expect(() => parseSensorTopic('pressure=a/b')).toThrow(TypeError);
    expect(() => parseSensorTopic('temperature=')).toThrow(TypeError);
    expect(() => parseSensorTopic('kitchen/pressure=a/b')).toThrow(TypeError);
    expect(() => parseSensorTopic('~bad/temperature=a/b')).toThrow(/not a device id/);
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
      sensors: [
        { sensor: 'temperature', topic: 'tele/kitchen/SENSOR', path: 'AM2301.Temperature' },
        { sensor: 'humidity', topic: 'esp/sensor/humidity/state' },
      ],
      ingestUrl: `${dashboard.url}/api/readings`,
      token: 'tok',
      onError: (e) => errors.push(e instanceof Error ? e.message : String(e)),
    });
    suite.defer(() => ingest.close());
    const board = ingest.boards.get('');
    await waitFor(() => board?.status === 'online', 'ingest connected');
    // The ingest's own MQTT.js client stands in for the devices' connections.
    const device = board!.client;

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

  it('topics of two devices feed each device its own channel, never the other', async () => {
    const dashboard = await start({ devices: [] });
    suite.defer(() => dashboard.close());
    const errors: unknown[] = [];
    const ingest = startMqttIngest({
      url: suite.broker.url,
      sensors: [
        parseSensorTopic('kitchen/temperature=tele/kitchen/SENSOR:AM2301.Temperature'),
        parseSensorTopic('garage/temperature=tele/garage/SENSOR:AM2301.Temperature'),
      ],
      ingestUrl: `${dashboard.url}/api/readings`,
      onError: (e) => errors.push(e),
    });
    suite.defer(() => ingest.close());
    expect([...ingest.boards.keys()].sort()).toEqual(['garage', 'kitchen']);
    await waitFor(() => [...ingest.boards.values()].every((b) => b.status === 'online'), 'ingest connected');
    const client = ingest.boards.get('kitchen')!.client;
    await client.publishAsync('tele/kitchen/SENSOR', '{"AM2301":{"Temperature":19.5}}');
    await client.publishAsync('tele/garage/SENSOR', '{"AM2301":{"Temperature":8.25}}');
    const last = (id: string) => dashboard.hub.channel(id).state.sensors.temperature.points.map((p) => p.value);
    await waitFor(() => last('kitchen').length === 1 && last('garage').length === 1, 'a reading on each device');
    expect(last('kitchen')).toEqual([19.5]);
    expect(last('garage')).toEqual([8.25]);
    expect(dashboard.hub.state.sensors.temperature.points).toEqual([]);
    expect([...dashboard.hub.directory.keys()].sort()).toEqual(['garage', 'kitchen']);
    expect(errors).toEqual([]);
  });
});
