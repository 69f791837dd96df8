import { Led } from '@boardcast/board-adapter-gpio';
import { BoardcastError } from '@boardcast/core';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { startTcpProxy } from '../../../test-support/tcp-proxy.js';
import { esphome, MqttBoard, type MqttBoardOptions, tasmota } from '../src/index.js';
import { client, type MosquittoTls, mosquittoPath, spy, startMosquitto, useMosquitto } from './broker.js';
import { EsphomeDouble, TasmotaDouble, waitFor } from './devices.js';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof BoardcastError ? error.code : `not a BoardcastError: ${String(error)}`;
  }
}

describe.skipIf(!mosquittoPath)('MqttBoard on a real mosquitto', () => {
  const suite = useMosquitto();

  /** A board on `url` (the suite's broker by default) that reconnects every 100 ms; its errors collected. */
  function board(
    options: Omit<MqttBoardOptions, 'url' | 'client'>,
    url = suite.broker.url,
  ): { board: MqttBoard; errors: unknown[] } {
    const b = new MqttBoard({ url, mqtt: { reconnectPeriod: 100 }, ...options });
    const errors: unknown[] = [];
    b.on('error', (e) => errors.push(e));
    suite.defer(() => b.close());
    return { board: b, errors };
  }

  async function tasmotaDevice(topic: string, options?: { relays?: number; switches?: number }) {
    const d = await TasmotaDouble.start(suite.broker.url, topic, options);
    suite.defer(() => d.stop());
    return d;
  }

  /** A Tasmota double, an online board on it and a ready Led on its relay. */
  async function plugWithLed(topic: string, options: Partial<MqttBoardOptions> = {}) {
    const device = await tasmotaDevice(topic);
    const { board: b, errors } = board({ id: 'plug', topics: tasmota(topic), ...options });
    await waitFor(() => b.status === 'online', 'board online');
    const led = new Led(b, 'POWER');
    suite.defer(() => led.close());
    await led.ready;
    return { device, b, errors, led };
  }

  /** A TCP proxy in front of the suite's broker (`cut()` drops the links through it) and its `mqtt://` URL. */
  async function proxied() {
    const proxy = await startTcpProxy(suite.broker.port);
    suite.defer(() => proxy.close());
    return { proxy, url: `mqtt://127.0.0.1:${proxy.port}` };
  }

  async function watcher(filter: string): Promise<{ lines: string[]; client: MqttClient }> {
    const s = await spy(suite.broker.url, filter);
    suite.defer(() => s.client.endAsync());
    return s;
  }

  it("a Led follows the plug's own button at once, without a reconnect", async () => {
    const { device, b, errors, led } = await plugWithLed('plug-follow');
    const seen: boolean[] = [];
    led.on('change', (on) => seen.push(on));
    device.pressButton();
    await waitFor(() => led.isOn === true, 'the Led follows the button');
    device.pressButton();
    await waitFor(() => led.isOn === false, 'and back');
    expect(seen).toEqual([true, false]);
    // Its own writes still confirm once each.
    expect(await led.toggle()).toBe(true);
    expect(seen).toEqual([true, false, true]);
    led.close();
    const levels: number[] = [];
    suite.defer(b.watch('POWER', {}, (edge) => levels.push(edge.value)));
    device.pressButton();
    await waitFor(() => levels.includes(0), 'the board saw the button');
    expect(led.isOn).toBe(true); // a closed Led stops following
    expect(errors).toEqual([]);
  });

  it('Tasmota: a Led toggles and each state is the one the device reports', async () => {
    const { device, b, errors, led } = await plugWithLed('plug1');
    expect(led.isOn).toBe(false);
    const commands = await watcher('cmnd/plug1/#');

    expect(await led.toggle()).toBe(true);
    expect(device.relays[0]).toBe(true);
    expect(await led.toggle()).toBe(false);
    expect(device.relays[0]).toBe(false);
    expect(await b.digitalWrite('POWER', 1)).toBe(1);
    await waitFor(() => commands.lines.length >= 3, 'commands seen');
    expect(commands.lines).toEqual(['cmnd/plug1/POWER ON', 'cmnd/plug1/POWER OFF', 'cmnd/plug1/POWER ON']);
    expect(errors).toEqual([]);
  });

  it('learns the initial state on connect (Tasmota retains nothing: the board asks)', async () => {
    const device = await tasmotaDevice('plug2', { relays: 2 });
    device.pressButton(1); // relay 2 on before the board exists
    const { board: b } = board({ id: 'plug', topics: tasmota('plug2', { relays: { 5: 1, 6: 2 } }) });
    await waitFor(() => b.status === 'online', 'board online');
    // Online only after the answers: no read has to wait.
    expect(b.levels.get('5')).toBe(0);
    expect(b.levels.get('6')).toBe(1);
    expect(await b.digitalRead(6)).toBe(1);
    expect(b.capabilities.pins.map((p) => p.pin)).toEqual([5, 6]);
  });

  it('a command the device ignores is `timeout`, and the board keeps reporting what the state topic says', async () => {
    const { device, b, led } = await plugWithLed('plug3', { commandTimeoutMs: 300 });
    device.ignoreCommands = true;
    const error = await led.turnOn().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BoardcastError);
    expect((error as BoardcastError).code).toBe('timeout');
    expect((error as BoardcastError).message).toMatch(/did not confirm ON.*reports OFF/);
    expect(led.isOn).toBe(false);
    expect(await b.digitalRead('POWER')).toBe(0);
    // The device later changes by itself: that is what the board reports.
    device.pressButton();
    await waitFor(() => b.levels.get('POWER') === 1, 'reported level');
    expect(await b.digitalRead('POWER')).toBe(1);
  });

  it('a report of the other level does not confirm a write', async () => {
    const device = await tasmotaDevice('plug4');
    const { board: b } = board({ id: 'plug', topics: tasmota('plug4'), commandTimeoutMs: 400 });
    await waitFor(() => b.status === 'online', 'board online');
    device.ignoreCommands = true;
    const write = b.digitalWrite('POWER', 1);
    // An unrelated OFF report (a TelePeriod STATE) arrives meanwhile.
    device.client.publish('tele/plug4/STATE', '{"POWER":"OFF"}');
    expect(await codeOf(write)).toBe('timeout');
  });

  it('an aborted or expired command is never published', async () => {
    await tasmotaDevice('plug5');
    const { board: b } = board({ id: 'plug', topics: tasmota('plug5') });
    await waitFor(() => b.status === 'online', 'board online');
    const commands = await watcher('cmnd/plug5/POWER');
    const controller = new AbortController();
    controller.abort(new BoardcastError('timeout', 'gone'));
    expect(await codeOf(b.digitalWrite('POWER', 1, { signal: controller.signal }))).toBe('timeout');
    expect(await codeOf(b.digitalWrite('POWER', 1, { deadline: performance.now() - 1 }))).toBe('timeout');
    expect(await b.digitalWrite('POWER', 0, { deadline: performance.now() + 5000 })).toBe(0);
    await waitFor(() => commands.lines.length >= 1, 'a command');
    expect(commands.lines).toEqual(['cmnd/plug5/POWER OFF']);
  });

  it('device killed: last will → offline, and commands fail `board_offline` at once without being sent', async () => {
    const device = await tasmotaDevice('plug6');
    const { board: b } = board({ id: 'plug', topics: tasmota('plug6'), commandTimeoutMs: 20_000 });
    await waitFor(() => b.status === 'online', 'board online');
    const statuses: string[] = [];
    b.on('status', (s) => statuses.push(s));
    // A write in flight when the device dies fails too, long before its timeout.
    device.ignoreCommands = true;
    const inFlight = codeOf(b.digitalWrite('POWER', 1));
    await waitFor(() => device.received.length === 1, 'command reached the device');
    device.kill();
    await waitFor(() => b.status === 'offline', 'offline after the last will');
    expect(await inFlight).toBe('board_offline');
    const commands = await watcher('cmnd/plug6/#');
    expect(await codeOf(b.digitalWrite('POWER', 1))).toBe('board_offline');
    expect(await codeOf(b.digitalRead('POWER'))).toBe('board_offline');
    expect(statuses).toEqual(['offline']);

    // The device comes back: resync, then online, then commands work. The
    // spy saw nothing of the refused commands: only the resync query and
    // the next real command.
    device.ignoreCommands = false;
    await device.connect();
    await waitFor(() => b.status === 'online', 'online again');
    expect(await b.digitalWrite('POWER', 1)).toBe(1);
    await waitFor(() => commands.lines.length >= 2, 'commands after the return');
    expect(commands.lines).toEqual(['cmnd/plug6/POWER ', 'cmnd/plug6/POWER ON']);
  });

  it('the link drops during a resync: the lost resync reports nothing and never disturbs the next one', async () => {
    const device = await tasmotaDevice('plug-resync');
    const { proxy, url } = await proxied();
    const { board: b, errors } = board({ id: 'plug', topics: tasmota('plug-resync'), resyncTimeoutMs: 800 }, url);
    // The first SUBACK is in: the board now waits for its sync marker. Cut the
    // link before the marker can come back.
    let cuts = 0;
    b.client.on('packetreceive', (packet) => {
      if (packet.cmd === 'suback' && cuts++ === 0) proxy.cut();
    });
    await waitFor(() => b.status === 'online', 'online after the reconnect');
    expect(cuts).toBeGreaterThanOrEqual(2);
    // The first resync's timer would have run out by now.
    await new Promise((r) => setTimeout(r, 1200));
    // The reset itself is reported (network_error); nothing else is.
    expect(errors.filter((e) => !(e instanceof BoardcastError && e.code === 'network_error'))).toEqual([]);
    device.pressButton();
    await waitFor(() => b.levels.get('POWER') === 1, 'reports still arrive');
  });

  it('a retained sensor value restores `readings` but is no new `reading`, on connect and on every reconnect', async () => {
    const device = await EsphomeDouble.start(suite.broker.url, 'node-retained', { sensors: { temperature: 20 } });
    suite.defer(() => device.stop());
    const { proxy, url } = await proxied();
    const { board: b } = board({ id: 'node', topics: esphome('node-retained', { sensors: ['temperature'] }) }, url);
    const readings: number[] = [];
    b.on('reading', (r) => readings.push(r.value));
    await waitFor(() => b.status === 'online', 'online');
    expect(b.readings.get('temperature')?.value).toBe(20);
    expect(await b.readSensor('temperature')).toBe(20);
    proxy.cut();
    await waitFor(() => b.status === 'offline', 'offline');
    await waitFor(() => b.status === 'online', 'online again');
    device.setSensor('temperature', 21.5);
    await waitFor(() => readings.length > 0, 'the live reading');
    expect(readings).toEqual([21.5]);
  });

  it('broker restarted mid-stream: resubscribes, resyncs before `online`, loses nothing the device did meanwhile', async () => {
    const local = await startMosquitto();
    suite.defer(() => local.stop());
    const device = await TasmotaDouble.start(local.url, 'plug7', { switches: 1 });
    suite.defer(() => device.stop());
    const { board: b, errors } = board(
      {
        id: 'plug',
        topics: tasmota('plug7', { switches: 1, sensors: { temperature: 'DS18B20.Temperature' } }),
        // Shorter than the window below, so a board that trusted a stale `Online` would be seen going online.
        resyncTimeoutMs: 300,
      },
      local.url,
    );
    const changes: string[] = [];
    b.on('change', (c) => changes.push(`${c.pin}=${c.value}`));
    const statuses: string[] = [];
    b.on('status', (s) => statuses.push(`${s} POWER=${b.levels.get('POWER')} Switch1=${b.levels.get('Switch1')}`));
    await waitFor(() => b.status === 'online', 'board online');
    expect(await b.digitalWrite('POWER', 1)).toBe(1);

    // The device stays away until we let it back, so the board meets a
    // restarted broker that has forgotten every retained message.
    device.client.options.reconnectPeriod = 0;
    await local.kill();
    await waitFor(() => b.status === 'offline', 'offline with the broker gone');
    // While the broker is down, the relay is switched at the device and a switch flips.
    device.pressButton();
    device.switches[0] = true;
    device.sensors = { DS18B20: { Temperature: 19.5 } };
    await local.start();
    // The board is back on the broker (it reads what is published there) …
    const probe = await client(local.url);
    suite.defer(() => probe.endAsync());
    await waitFor(async () => {
      await probe.publishAsync('tele/plug7/SENSOR', '{"DS18B20":{"Temperature":5}}');
      return b.readings.get('temperature')?.value === 5;
    }, 'board resubscribed');
    // … but the device is not: its old `Online` died with the broker, so the board must not claim it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(b.status).toBe('offline');
    expect(await codeOf(b.digitalWrite('POWER', 1))).toBe('board_offline');
    device.client.end(true);
    await device.connect();
    await waitFor(() => b.status === 'online', 'online after the restart', 15_000);
    // Online was announced with the state already resynced.
    expect(statuses.at(-1)).toBe('online POWER=0 Switch1=1');
    expect(b.readings.get('temperature')?.value).toBe(19.5);
    expect(changes).toEqual(['POWER=0', 'Switch1=0', 'POWER=1', 'POWER=0', 'Switch1=1']);
    expect(await b.digitalWrite('POWER', 1)).toBe(1);
    expect(errors.filter((e) => !(e instanceof BoardcastError && e.code === 'network_error'))).toEqual([]);
  });

  it('malformed payloads on every topic are `error` events; the board keeps working', async () => {
    const device = await tasmotaDevice('plug8', { switches: 1 });
    const { board: b, errors } = board({
      id: 'plug',
      topics: tasmota('plug8', { switches: 1, sensors: { temperature: 'AM2301.Temperature' } }),
      maxPayloadBytes: 1024,
    });
    await waitFor(() => b.status === 'online', 'board online');
    const bad = await client(suite.broker.url);
    suite.defer(() => bad.endAsync());
    const garbage: [string, string | Buffer][] = [
      ['stat/plug8/POWER', 'MAYBE'],
      ['stat/plug8/RESULT', '{"POWER":'],
      ['stat/plug8/RESULT', '{"POWER":42}'],
      ['stat/plug8/RESULT', '{"Switch1":{"Action":7}}'],
      ['tele/plug8/STATE', 'not json'],
      ['tele/plug8/SENSOR', '{"AM2301":{"Temperature":"warm"}}'],
      ['tele/plug8/SENSOR', Buffer.from([0xff, 0xfe, 0x00])],
      ['stat/plug8/STATUS10', '[]'.repeat(600)],
      ['tele/plug8/LWT', 'Maybe'],
    ];
    for (const [topic, payload] of garbage) await bad.publishAsync(topic, payload);
    await waitFor(() => errors.length >= garbage.length, 'an error per malformed message');
    const codes = errors.map((e) => (e instanceof BoardcastError ? e.code : String(e)));
    expect(codes.filter((c) => c === 'payload_too_large')).toHaveLength(1);
    expect(codes.every((c) => c === 'invalid_payload' || c === 'payload_too_large')).toBe(true);
    // One error per message, even where several pins read the same topic (RESULT).
    expect(errors).toHaveLength(garbage.length);
    // Messages that are simply about something else are not errors.
    await bad.publishAsync('stat/plug8/RESULT', '{"Dimmer":40}');
    expect(b.status).toBe('online');
    expect(b.levels.get('POWER')).toBe(0);
    expect(await b.digitalWrite('POWER', 1)).toBe(1);
    device.setSwitch(0, true);
    await waitFor(() => b.levels.get('Switch1') === 1, 'switch still read');
    device.telemetry({ AM2301: { Temperature: 21.3, Humidity: 40 } });
    expect(await waitFor(() => b.readings.get('temperature')?.value, 'reading')).toBe(21.3);
    expect(errors).toHaveLength(garbage.length);
  });

  it('ESPHome: retained initial state, confirmed switch, binary sensor edges, sensor readings, last will', async () => {
    const device = await EsphomeDouble.start(suite.broker.url, 'node1', {
      switches: ['relay'],
      binarySensors: ['button'],
      sensors: { temperature: 20 },
    });
    suite.defer(() => device.stop());
    device.setBinarySensor('button', true);
    const { board: b, errors } = board({
      id: 'node1',
      topics: esphome('node1', { switches: ['relay'], binarySensors: ['button'], sensors: ['temperature'] }),
    });
    await waitFor(() => b.status === 'online', 'board online');
    expect(b.levels.get('button')).toBe(1);
    expect(await b.readSensor('temperature')).toBe(20);
    const edges: string[] = [];
    b.watch('button', { edge: 'both' }, (e) => edges.push(`${e.pin}=${e.value}`));
    const readings: number[] = [];
    b.on('reading', (r) => readings.push(r.value));

    expect(await b.digitalWrite('relay', 1)).toBe(1);
    expect(device.switches.get('relay')).toBe(true);
    device.setBinarySensor('button', false);
    device.setSensor('temperature', 21.5);
    await waitFor(() => edges.length === 1 && readings.length === 1, 'edge and reading');
    expect(edges).toEqual(['button=0']);
    expect(readings).toEqual([21.5]);
    expect(await codeOf(b.digitalWrite('button', 1))).toBe('unsupported');
    expect(await codeOf(b.analogRead('relay'))).toBe('unsupported');
    expect(await codeOf(b.readSensor('humidity'))).toBe('unsupported');
    await b.pinMode('button', 'input_pullup');
    expect(await codeOf(b.pinMode('button', 'output'))).toBe('unsupported');

    device.kill();
    await waitFor(() => b.status === 'offline', 'offline after the will');
    expect(await codeOf(b.digitalWrite('relay', 0))).toBe('board_offline');
    expect(await codeOf(b.readSensor('temperature'))).toBe('board_offline');
    expect(errors).toEqual([]);
  });

  it('watch: edges filtered and debounced per watcher; outputs report changes from the device itself', async () => {
    const device = await EsphomeDouble.start(suite.broker.url, 'node4', {
      switches: ['relay'],
      binarySensors: ['door'],
    });
    suite.defer(() => device.stop());
    const { board: b } = board({
      id: 'node4',
      topics: esphome('node4', { switches: ['relay'], binarySensors: ['door'] }),
    });
    await waitFor(() => b.status === 'online', 'board online');
    const all: number[] = [];
    const rising: number[] = [];
    const debounced: number[] = [];
    const relay: number[] = [];
    b.watch('door', { edge: 'both' }, (e) => all.push(e.value));
    b.watch('door', { edge: 'rising' }, (e) => rising.push(e.value));
    b.watch('door', { edge: 'both', debounceMs: 150 }, (e) => debounced.push(e.value));
    b.watch('relay', {}, (e) => relay.push(e.value));
    // A reed contact chattering, then settling open.
    for (const on of [true, false, true, false, true]) device.setBinarySensor('door', on);
    await waitFor(() => all.length === 5 && debounced.length === 1, 'edges');
    expect(all).toEqual([1, 0, 1, 0, 1]);
    expect(rising).toEqual([1, 1, 1]);
    expect(debounced).toEqual([1]);
    // The relay switched by someone else on the broker (Home Assistant, a wall switch).
    device.switches.set('relay', true);
    device.client.publish('node4/switch/relay/state', 'ON', { retain: true });
    await waitFor(() => relay.length === 1, 'relay change');
    expect(relay).toEqual([1]);
    expect(() => b.watch('nope', {}, () => undefined)).toThrow(BoardcastError);
  });

  it('goes online only after every retained state has arrived', async () => {
    const ids = Array.from({ length: 400 }, (_, i) => `s${i}`);
    const device = await EsphomeDouble.start(suite.broker.url, 'node3', {
      sensors: Object.fromEntries(ids.map((id, i) => [id, i])),
      qos: 1,
    });
    // All 400 are stored before the board subscribes.
    await waitFor(async () => {
      const c = await client(suite.broker.url);
      let n = 0;
      c.on('message', () => n++);
      await c.subscribeAsync('node3/sensor/+/state', { qos: 0 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await c.endAsync();
      return n === ids.length;
    }, 'retained states stored');
    suite.defer(() => device.stop());
    // QoS 1 retained messages trickle out behind mosquitto's in-flight window
    // (20), long after the SUBACK; the board must not call itself synced at the SUBACK.
    // A plain topic map without availability: nothing but the sync marker says when the retained state is complete.
    const { board: b } = board({
      id: 'node3',
      topics: { sensors: ids.map((id) => ({ name: id, state: `node3/sensor/${id}/state`, unit: '°C' })) },
    });
    let knownAtOnline = -1;
    b.on('status', (s) => {
      if (s === 'online') knownAtOnline = b.readings.size;
    });
    await waitFor(() => b.status === 'online', 'board online');
    expect(knownAtOnline).toBe(ids.length);
  });

  it('ESPHome switch ignoring a command: timeout, the retained state stays the truth', async () => {
    const device = await EsphomeDouble.start(suite.broker.url, 'node2', { switches: ['relay'] });
    suite.defer(() => device.stop());
    const { board: b } = board({
      id: 'node2',
      topics: esphome('node2', { switches: ['relay'] }),
      commandTimeoutMs: 300,
    });
    await waitFor(() => b.status === 'online', 'board online');
    device.ignoreCommands = true;
    expect(await codeOf(b.digitalWrite('relay', 1))).toBe('timeout');
    expect(await b.digitalRead('relay')).toBe(0);
  });

  it('rejects a broken topic map and bad options clearly', () => {
    expect(() => tasmota('a/+')).toThrow(BoardcastError);
    expect(() => esphome('')).toThrow(BoardcastError);
    expect(() => tasmota('x', { relays: { 1: 0 } })).toThrow(/relay index/);
    expect(
      () =>
        new MqttBoard({
          id: 'x',
          url: suite.broker.url,
          topics: { outputs: [{ pin: 1, command: 'a', state: 'b' }], inputs: [{ pin: 1, state: 'c' }] },
        }),
    ).toThrow(/appears twice/);
    expect(() => new MqttBoard({ id: 'x', topics: {} } as MqttBoardOptions)).toThrow(TypeError);
    expect(() => new MqttBoard({ id: 'x', url: suite.broker.url, topics: {}, commandTimeoutMs: 0 })).toThrow(
      RangeError,
    );
  });
});

describe.skipIf(!mosquittoPath)('MqttBoard with broker authentication', () => {
  const suite = useMosquitto({
    users: { board: 's3cret', plug: 'plugpw' },
  });

  it('passes username/password to MQTT.js; a refused login is an `unauthorized` error event', async () => {
    const device = await TasmotaDouble.start(suite.broker.url.replace('mqtt://', 'mqtt://plug:plugpw@'), 'authplug');
    const wrong = new MqttBoard({
      id: 'wrong',
      url: suite.broker.url,
      topics: tasmota('authplug'),
      mqtt: { username: 'board', password: 'nope', reconnectPeriod: 0 },
    });
    const errors: unknown[] = [];
    wrong.on('error', (e) => errors.push(e));
    const right = new MqttBoard({
      id: 'right',
      url: suite.broker.url,
      topics: tasmota('authplug'),
      mqtt: { username: 'board', password: 's3cret' },
    });
    try {
      await waitFor(() => errors.length > 0, 'refusal');
      expect((errors[0] as BoardcastError).code).toBe('unauthorized');
      expect(wrong.status).toBe('offline');
      await waitFor(() => right.status === 'online', 'authenticated board online');
      expect(await right.digitalWrite('POWER', 1)).toBe(1);
    } finally {
      await wrong.close();
      await right.close();
      await device.stop();
    }
  });
});

describe.skipIf(!mosquittoPath)('MqttBoard over TLS with client certificates', () => {
  const suite = useMosquitto({ tls: { clientCertificates: true } });

  it('passes ca/cert/key to MQTT.js: online over mqtts://; without a client certificate the broker refuses', async () => {
    const tls = suite.broker.tls as MosquittoTls;
    expect(suite.broker.url).toMatch(/^mqtts:/);
    const files = { ca: tls.ca, cert: tls.cert, key: tls.key };
    const device = await TasmotaDouble.start(suite.broker.url, 'tlsplug', { connect: files });
    suite.defer(() => device.stop());
    const good = new MqttBoard({ id: 'tls', url: suite.broker.url, topics: tasmota('tlsplug'), mqtt: files });
    suite.defer(() => good.close());
    const noCert = new MqttBoard({
      id: 'nocert',
      url: suite.broker.url,
      topics: tasmota('tlsplug'),
      mqtt: { ca: tls.ca, reconnectPeriod: 0 },
    });
    suite.defer(() => noCert.close());
    const errors: unknown[] = [];
    noCert.on('error', (e) => errors.push(e));
    await waitFor(() => good.status === 'online', 'TLS board online');
    expect(await good.digitalWrite('POWER', 1)).toBe(1);
    await waitFor(() => errors.length > 0, 'refusal');
    expect((errors[0] as BoardcastError).code).toBe('network_error');
    expect(noCert.status).toBe('offline');
  });
});
