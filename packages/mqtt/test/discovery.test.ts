import { BoardcastError } from '@boardcast/core';
import type { MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { type DiscoveredDevice, type Discovery, deviceId, discoverDevices } from '../src/index.js';
import { client, mosquittoPath, useMosquitto } from './broker.js';
import { DeviceDiscoveryDouble, EsphomeDouble, TasmotaDouble, waitFor } from './devices.js';

const CHANNEL_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

function codeOf(error: unknown): string {
  return error instanceof BoardcastError ? error.code : String(error);
}

describe('deviceId', () => {
  it('is a valid channel id, stable, and distinct for distinct identifiers', () => {
    const raws = [
      'A4CF121A2B3C',
      'zigbee2mqtt_0x00158d0001a2b3c4',
      'a b',
      'a_b',
      'ü',
      'x'.repeat(300),
      'x'.repeat(301),
      '/',
    ];
    const ids = raws.map((r) => deviceId('ha', r));
    for (const id of ids) expect(id).toMatch(CHANNEL_ID);
    expect(new Set(ids).size).toBe(raws.length);
    expect(deviceId('ha', 'a b')).toBe(deviceId('ha', 'a b'));
    expect(deviceId('tasmota', 'A4CF121A2B3C')).toBe('tasmota:A4CF121A2B3C');
  });
});

describe.skipIf(!mosquittoPath)('discoverDevices on a real mosquitto', () => {
  const suite = useMosquitto();

  async function mqtt(): Promise<MqttClient> {
    const c = await client(suite.broker.url);
    suite.defer(() => c.endAsync());
    return c;
  }

  /** Start a discovery and record everything it says. */
  async function discover(options: Parameters<typeof discoverDevices>[1] = {}) {
    const discovery: Discovery = discoverDevices(suite.broker.url, { settleMs: 50, ...options });
    suite.defer(() => discovery.close());
    const devices: DiscoveredDevice[] = [];
    const statuses: string[] = [];
    const removed: string[] = [];
    const errors: { code: string; message: string; id: string | undefined }[] = [];
    discovery.on('device', (d) => devices.push(d));
    discovery.on('status', (id, s) => statuses.push(`${id} ${s}`));
    discovery.on('removed', (id) => removed.push(id));
    discovery.on('error', (e, id) => errors.push({ code: codeOf(e), message: String((e as Error).message), id }));
    await discovery.ready;
    return { discovery, devices, statuses, removed, errors };
  }

  async function clearRetained(topics: string[]): Promise<void> {
    const c = await mqtt();
    for (const t of topics) await c.publishAsync(t, '', { retain: true, qos: 1 });
  }

  /** `topics`, their retained messages cleared when the test ends. */
  function clearAtEnd(topics: string[]): string[] {
    suite.defer(() => clearRetained(topics));
    return topics;
  }

  let peer: Promise<MqttClient> | undefined;

  /** The test's own publishing client: opened at its first use, closed when the test ends. */
  function peerClient(): Promise<MqttClient> {
    if (!peer) {
      const opening = mqtt();
      peer = opening;
      suite.defer(() => {
        if (peer === opening) peer = undefined;
      });
    }
    return peer;
  }

  /** Publish `body` retained (qos 1) from the test's client: an object as its JSON, a string as it is ('' clears the topic). */
  async function retain(topic: string, body: object | string): Promise<void> {
    const c = await peerClient();
    await c.publishAsync(topic, typeof body === 'string' ? body : JSON.stringify(body), { retain: true, qos: 1 });
  }

  /**
   * Publish `payload(n)` retained on `topic` every 20 ms (n = 0, 1, …) until
   * the returned `stop()`, which waits for the last publish; stopped when the
   * test ends in any case.
   */
  async function republishEvery(topic: string, payload: (n: number) => string): Promise<() => Promise<void>> {
    await peerClient(); // open before the stop is deferred, so the client is closed after it
    let keep = true;
    const loop = (async () => {
      for (let n = 0; keep; n++) {
        await retain(topic, payload(n));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const stop = async () => {
      keep = false;
      await loop;
    };
    suite.defer(stop);
    return stop;
  }

  /** The pins of the discovered device `id` (none while there is no such device). */
  const pinsOf = (discovery: Discovery, id: string) =>
    discovery.devices.get(id)?.capabilities.pins.map((p) => p.pin) ?? [];
  /** The command topics of the discovered device `id`'s outputs (none while there is no such device). */
  const commandsOf = (discovery: Discovery, id: string) =>
    discovery.devices.get(id)?.topics.outputs?.map((o) => o.command) ?? [];

  /**
   * A zigbee2mqtt bulb announced by Home Assistant device discovery; stopped,
   * and every retained topic it writes cleared, when the test ends.
   */
  async function bulb(name: string, objectId: string): Promise<DeviceDiscoveryDouble> {
    const device = await DeviceDiscoveryDouble.start(suite.broker.url, { name, objectId });
    suite.defer(() => device.stop());
    clearAtEnd([
      `homeassistant/device/${objectId}/config`,
      'zigbee2mqtt/bridge/state',
      `zigbee2mqtt/${name}`,
      `zigbee2mqtt/${name}/availability`,
    ]);
    return device;
  }

  it('Tasmota: a plug appears with its relays, sensors, name and firmware; it switches; its LWT is its status; removing the config removes it', async () => {
    const plug = await TasmotaDouble.start(suite.broker.url, 'kitchen_plug', {
      relays: 2,
      discovery: { mac: 'A4CF121A2B3C', name: 'Kitchen plug' },
      sensors: { AM2301: { Temperature: 21.4, Humidity: 48 }, TempUnit: 'C' },
    });
    suite.defer(() => plug.stop());
    clearAtEnd(['tasmota/discovery/A4CF121A2B3C/config', 'tele/kitchen_plug/LWT']);
    const { discovery, devices, statuses, removed } = await discover();
    await waitFor(() => devices.length === 1, 'the plug');
    const device = devices[0] as DiscoveredDevice;
    expect(device.id).toBe('tasmota:A4CF121A2B3C');
    expect(device.id).toMatch(CHANNEL_ID);
    expect(device.kind).toBe('tasmota');
    expect(device.name).toBe('Kitchen plug');
    expect(device.firmware).toBe('13.2.0');
    expect(device.model).toBe('Sonoff Dual R2');
    expect(device.capabilities.pins.map((p) => p.pin)).toEqual(['POWER1', 'POWER2']);
    expect(device.capabilities.sensors).toEqual(['AM2301.Temperature', 'AM2301.Humidity']);
    expect(discovery.devices.get(device.id)).toBe(device);

    await waitFor(() => device.board.status === 'online', 'online');
    expect(statuses).toContain('tasmota:A4CF121A2B3C online');
    expect(await device.board.digitalWrite('POWER2', 1)).toBe(1);
    expect(plug.relays).toEqual([false, true]);
    expect(plug.received).toContain('POWER2 ON');
    plug.telemetry({ AM2301: { Temperature: 22.5, Humidity: 47 } });
    await waitFor(() => device.board.readings.get('AM2301.Temperature')?.value === 22.5, 'a reading');

    // The plug's link dies: the broker publishes its last will.
    plug.kill();
    await waitFor(() => statuses.includes('tasmota:A4CF121A2B3C offline'), 'offline');
    // Discovery switched off on the device (or the device retired): empty retained config.
    await retain('tasmota/discovery/A4CF121A2B3C/config', '');
    await waitFor(() => removed.length === 1, 'removed');
    expect(removed).toEqual(['tasmota:A4CF121A2B3C']);
    expect(discovery.devices.size).toBe(0);
    await expect(device.board.digitalWrite('POWER1', 1)).rejects.toMatchObject({ code: 'closed' });
  });

  it('Home Assistant per-component discovery (ESPHome): one device from three configs, abbreviated keys, availability', async () => {
    const node = await EsphomeDouble.start(suite.broker.url, 'livingroom', {
      switches: ['relay'],
      binarySensors: ['button'],
      sensors: { temperature: 20.5 },
      discovery: { mac: '84f3eb123456' },
    });
    suite.defer(() => node.stop());
    clearAtEnd([
      'homeassistant/switch/livingroom/relay/config',
      'homeassistant/binary_sensor/livingroom/button/config',
      'homeassistant/sensor/livingroom/temperature/config',
      'livingroom/status',
    ]);
    const { devices, statuses } = await discover();
    await waitFor(
      () => devices.at(-1)?.capabilities.sensors.length === 1 && devices.at(-1)?.capabilities.pins.length === 2,
      'the node, complete',
    );
    const device = devices.at(-1) as DiscoveredDevice;
    expect(device.id).toBe('ha:84f3eb123456');
    expect(device.kind).toBe('homeassistant');
    expect(device.name).toBe('livingroom');
    expect(device.firmware).toBe('esphome v2024.6.0');
    expect(device.manufacturer).toBe('espressif');
    expect(device.capabilities.pins.map((p) => p.pin).sort()).toEqual(['button', 'relay']);
    await waitFor(() => device.board.status === 'online', 'online');
    expect(await device.board.digitalWrite('relay', 1)).toBe(1);
    expect(node.switches.get('relay')).toBe(true);
    expect(await device.board.readSensor('temperature')).toBe(20.5);
    node.setBinarySensor('button', true);
    await waitFor(() => device.board.levels.get('button') === 1, 'the button');
    node.kill();
    await waitFor(() => statuses.includes('ha:84f3eb123456 offline'), 'offline by its last will');
  });

  it('Home Assistant device discovery (dev, o, cmps): JSON light, templated sensor and binary sensor, availability of two topics, an unsupported component skipped', async () => {
    const hall = await bulb('hall_bulb', '0x000b57fffe123456');
    const { devices, statuses, removed } = await discover();
    await waitFor(() => devices.length === 1, 'the bulb');
    const device = devices[0] as DiscoveredDevice;
    expect(device.id).toBe('ha:zigbee2mqtt_0x000b57fffe123456');
    expect(device.name).toBe('hall_bulb');
    expect(device.firmware).toBe('1.0.021');
    expect(device.manufacturer).toBe('IKEA');
    expect(device.capabilities.pins.map((p) => p.pin).sort()).toEqual(['contact', 'light']);
    expect(device.capabilities.sensors).toEqual(['temperature']);
    expect(device.skipped).toEqual([
      { component: 'select/effect', reason: expect.stringMatching(/platform "select"/) },
    ]);
    await waitFor(() => device.board.status === 'online', 'online (both availability topics say online)');
    expect(await device.board.digitalWrite('light', 1)).toBe(1);
    expect(hall.received).toEqual(['{"state":"ON"}']);
    expect(hall.light).toBe(true);
    expect(await device.board.readSensor('temperature')).toBe(21.5);
    // contact true = closed = payload_off.
    expect(await device.board.digitalRead('contact')).toBe(0);
    hall.openDoor(true);
    await waitFor(() => device.board.levels.get('contact') === 1, 'door open');
    hall.setTemperature(19);
    await waitFor(() => device.board.readings.get('temperature')?.value === 19, 'a reading');
    // A second device of the same bridge shares its bridge/state topic on the discovery's client.
    await bulb('porch_bulb', '0x000b57fffe654321');
    await waitFor(() => devices.length === 2, 'the second bulb');
    const second = devices[1] as DiscoveredDevice;
    await waitFor(() => second.board.status === 'online', 'the second bulb online');
    // availability_mode all: the bridge going offline takes both devices offline.
    await retain('zigbee2mqtt/bridge/state', '{"state":"offline"}');
    await waitFor(
      () => statuses.includes(`${device.id} offline`) && statuses.includes(`${second.id} offline`),
      'both offline with the bridge',
    );
    await hall.removeDiscovery();
    await waitFor(() => removed.includes(device.id), 'removed');
  });

  it("a hostile config naming another device's cmnd/…/POWER is refused, in whichever order the configs arrive", async () => {
    clearAtEnd([
      'homeassistant/switch/evil1/config',
      'homeassistant/switch/evil2/config',
      'tasmota/discovery/BADBADBADBAD/config',
      'tasmota/discovery/DDEEFF001122/config',
      'tele/plug1/LWT',
    ]);
    // Arrives first: claims plug1's command topic under a base of its own making.
    await retain('homeassistant/switch/evil2/config', {
      name: 'Lamp',
      '~': 'cmnd/plug1/',
      cmd_t: '~POWER',
      stat_t: '~STATE',
      uniq_id: 'evil2',
    });
    const plug = await TasmotaDouble.start(suite.broker.url, 'plug1', { discovery: { mac: 'DDEEFF001122' } });
    suite.defer(() => plug.stop());
    const { errors, discovery } = await discover();
    await waitFor(() => discovery.devices.has('tasmota:DDEEFF001122'), 'the plug');
    // The evil device lost its output once the plug claimed cmnd/plug1/.
    await waitFor(() => errors.some((e) => e.code === 'forbidden' && e.id === 'ha:evil2'), 'evil2 refused');
    // And it goes: left with nothing by a standard Tasmota's namespace, it keeps no claim (kept as an
    // empty board, it would take the relay the moment the plug's discovery config goes).
    await waitFor(() => !discovery.devices.has('ha:evil2'), 'evil2 gone');

    // Arrives later: a command topic outside its own state topic's level, of
    // a plug that does not use discovery (no other device owns the topic).
    await retain('homeassistant/switch/evil1/config', {
      name: 'Fan',
      cmd_t: 'cmnd/hidden_plug/POWER',
      stat_t: 'stat/hidden_plug/POWER',
      uniq_id: 'evil1',
    });
    await waitFor(() => errors.some((e) => e.id === 'ha:evil1'), 'evil1 refused');
    expect(errors.find((e) => e.id === 'ha:evil1')?.code).toBe('forbidden');
    expect(discovery.devices.has('ha:evil1')).toBe(false);
    // The plug keeps its relay: a Home Assistant `~` on its `cmnd/plug1/` does not take it away.
    // (Any rebuild of the plug evil2 caused was scheduled before evil1's config was
    // published, with the same settleMs, so it has run by the time evil1 was refused.)
    const plugPins = () => discovery.devices.get('tasmota:DDEEFF001122')?.capabilities.pins.map((p) => p.pin);
    expect(plugPins()).toEqual(['POWER']);
    expect(errors.filter((e) => e.id === 'tasmota:DDEEFF001122')).toEqual([]);
    // No discovered board can switch plug1 but plug1's own.
    const onlyThePlug = () => {
      for (const d of discovery.devices.values()) {
        const commands = d.topics.outputs?.map((o) => o.command) ?? [];
        if (d.id !== 'tasmota:DDEEFF001122') expect(commands.filter((c) => c.startsWith('cmnd/'))).toEqual([]);
      }
    };
    onlyThePlug();

    // A Tasmota config under another MAC claiming the plug's Topic: two standard Tasmotas, neither
    // claim is worth more (a retained order must not decide whose board, and whose users' rights,
    // switch the relay), so neither has the relay until one goes.
    const fake = 'tasmota/discovery/BADBADBADBAD/config';
    await retain(fake, {
      mac: 'BADBADBADBAD',
      t: 'plug1',
      ft: '%prefix%/%topic%/',
      tp: ['cmnd', 'stat', 'tele'],
      rl: [1],
    });
    await waitFor(
      () => discovery.devices.has('tasmota:BADBADBADBAD') && plugPins()?.length === 0,
      'neither with the relay',
    );
    expect(discovery.devices.get('tasmota:BADBADBADBAD')?.capabilities.pins).toEqual([]);
    expect(errors.filter((e) => e.id === 'tasmota:DDEEFF001122').map((e) => e.code)).toContain('forbidden');
    expect(errors.filter((e) => e.id === 'tasmota:BADBADBADBAD').map((e) => e.code)).toContain('forbidden');
    onlyThePlug();
    // The fake config goes: the plug's relay is its own again.
    await retain(fake, '');
    await waitFor(() => plugPins()?.length === 1, 'the plug with its relay again');
    expect(discovery.devices.has('tasmota:BADBADBADBAD')).toBe(false);
    // A rebuilt device is a new board: online once it has heard the device's availability again.
    await waitFor(
      () => discovery.devices.get('tasmota:DDEEFF001122')?.board.status === 'online',
      'the new board online',
    );
    await discovery.devices.get('tasmota:DDEEFF001122')?.board.digitalWrite('POWER', 1);
    expect(plug.relays[0]).toBe(true);
    expect(plug.received.filter((r) => !r.startsWith('POWER '))).toEqual([]);
  });

  it("a Tasmota config with another FullTopic or prefixes is no standard Tasmota: it contests a Home Assistant device's topic like any claim", async () => {
    const topics = clearAtEnd(['homeassistant/switch/lamp/config', 'tasmota/discovery/0000000000AA/config']);
    const { discovery } = await discover();
    // Tasmota's old HA discovery with FullTopic %topic%/%prefix%/: accepted, its `~` covers both.
    await retain(topics[0] as string, {
      name: 'Lamp',
      '~': 'lamp/',
      cmd_t: '~cmnd/POWER',
      stat_t: '~stat/POWER',
      uniq_id: 'lamp',
    });
    await waitFor(() => pinsOf(discovery, 'ha:lamp').length === 1, 'the lamp with its switch');
    // A Tasmota config whose FullTopic puts its commands on lamp/cmnd/POWER.
    await retain(topics[1] as string, { mac: '0000000000AA', t: 'lamp', ft: '%topic%/%prefix%/', rl: [1] });
    await waitFor(
      () => discovery.devices.has('tasmota:0000000000AA') && pinsOf(discovery, 'ha:lamp').length === 0,
      'neither with lamp/cmnd/POWER',
    );
    expect(pinsOf(discovery, 'tasmota:0000000000AA')).toEqual([]);
    expect(discovery.devices.has('ha:lamp')).toBe(true);
  });

  it('a command topic two Home Assistant devices contest belongs to neither, and comes back to one when the other leaves', async () => {
    const topics = clearAtEnd(['homeassistant/switch/door/config', 'homeassistant/switch/claim/config']);
    const { discovery, errors, removed } = await discover();
    await retain(topics[0] as string, {
      name: 'Door',
      '~': 'garage/door/',
      cmd_t: '~set',
      stat_t: '~state',
      uniq_id: 'door',
    });
    await waitFor(() => pinsOf(discovery, 'ha:door').length === 1, 'the door with its switch');
    // A config whose own base covers the door's: its switch is refused, and the door's is no longer the door's alone.
    await retain(topics[1] as string, {
      name: 'Claim',
      '~': 'garage/',
      cmd_t: '~door/set',
      stat_t: '~claim',
      uniq_id: 'claim',
    });
    // Both stay boards, with nothing to switch: were the door removed for having
    // lost its only switch, the claim would win the topic.
    await waitFor(
      () =>
        discovery.devices.has('ha:door') &&
        pinsOf(discovery, 'ha:door').length === 0 &&
        discovery.devices.has('ha:claim'),
      'the door without its switch',
    );
    expect(pinsOf(discovery, 'ha:claim')).toEqual([]);
    expect(removed).toEqual([]);
    expect(errors.filter((e) => e.code === 'forbidden').map((e) => e.id)).toEqual(
      expect.arrayContaining(['ha:door', 'ha:claim']),
    );
    // The other config moves out from over the door's: the door's switch comes back, and it has its own.
    const claim = (base: string) =>
      retain(topics[1] as string, { name: 'Claim', '~': base, cmd_t: '~door/set', stat_t: '~claim', uniq_id: 'claim' });
    await claim('attic/');
    await waitFor(
      () => pinsOf(discovery, 'ha:door').length === 1 && pinsOf(discovery, 'ha:claim').length === 1,
      'both with a switch',
    );
    // Back over it: neither again.
    await claim('garage/');
    await waitFor(
      () => pinsOf(discovery, 'ha:door').length === 0 && pinsOf(discovery, 'ha:claim').length === 0,
      'both without a switch again',
    );
    // The other config goes (its empty retained payload): the door's switch comes back.
    await retain(topics[1] as string, '');
    await waitFor(() => removed.includes('ha:claim'), 'the claim removed');
    await waitFor(() => pinsOf(discovery, 'ha:door').length === 1, 'the door with its switch again');
  });

  it('after a restart, a claim counts from its config, not its build: the other device never holds the topic meanwhile', async () => {
    const topics = clearAtEnd(['homeassistant/switch/claim/config', 'homeassistant/switch/door/config']);
    // Both retained before the discovery starts (a restart): the broker sends them in a burst.
    await retain(topics[0] as string, {
      name: 'Claim',
      '~': 'garage/',
      cmd_t: '~door/set',
      stat_t: '~claim',
      uniq_id: 'claim',
    });
    await retain(topics[1] as string, {
      name: 'Door',
      '~': 'garage/door/',
      cmd_t: '~set',
      stat_t: '~state',
      uniq_id: 'door',
    });
    // A settle time far longer than the burst, so both configs are known when the first device is built.
    const { discovery, devices } = await discover({ settleMs: 1000 });
    await waitFor(() => discovery.devices.has('ha:claim') && discovery.devices.has('ha:door'), 'both devices');
    // Every announcement so far: neither ever had garage/door/set (a claim made at build time let
    // the first one built hold it for a settle time).
    const announced = devices.flatMap((d) => d.topics.outputs?.map((o) => `${d.id} ${o.command}`) ?? []);
    expect(announced).toEqual([]);
  });

  it('a device whose rebuild fails loses its board, not its claims; fixed, it comes back', async () => {
    const topics = clearAtEnd(['homeassistant/switch/h/config', 'homeassistant/switch/x/config']);
    const { discovery, errors, removed } = await discover();
    const h = (cmd: string) => JSON.stringify({ name: 'H', '~': 'h/', cmd_t: cmd, stat_t: '~state', uniq_id: 'h' });
    await retain(topics[0] as string, h('~set'));
    await waitFor(() => pinsOf(discovery, 'ha:h').length === 1, 'h with its switch');
    // x claims the same base and command topic: a contest, neither switches.
    await retain(topics[1] as string, { name: 'X', '~': 'h/', cmd_t: '~set', stat_t: 'h/x', uniq_id: 'x' });
    await waitFor(() => discovery.devices.has('ha:x') && pinsOf(discovery, 'ha:h').length === 0, 'contested');
    // h's config breaks (its command topic outside its own base): its board goes …
    await retain(topics[0] as string, h('elsewhere/set'));
    await waitFor(() => removed.includes('ha:h'), 'h without a board');
    expect(errors.some((e) => e.id === 'ha:h' && e.code === 'unsupported')).toBe(true);
    // … but its `~` still claims h/: x, rebuilt for any reason (here its config changes), does not get h/set.
    await retain(topics[1] as string, { name: 'X2', '~': 'h/', cmd_t: '~set', stat_t: 'h/x', uniq_id: 'x' });
    await waitFor(() => discovery.devices.get('ha:x')?.name === 'X2', 'x rebuilt');
    expect(pinsOf(discovery, 'ha:x').length).toBe(0);
    // Fixed, h is a board again (contested still, so with nothing to switch).
    await retain(topics[0] as string, h('~set'));
    await waitFor(() => discovery.devices.has('ha:h'), 'h back');
  });

  it('sensors that join a device under one name get distinct names, and the device keeps its switch', async () => {
    const topics = clearAtEnd([
      'homeassistant/switch/j/config',
      'homeassistant/sensor/a/dup/config',
      'homeassistant/sensor/b/dup/config',
      'homeassistant/sensor/c/dup/config',
    ]);
    const { discovery } = await discover();
    const dev = { ids: 'j' };
    await retain(topics[0] as string, { name: 'J', '~': 'j/', cmd_t: '~set', stat_t: '~state', dev });
    await waitFor(() => pinsOf(discovery, 'ha:j').length === 1, 'j with its switch');
    // Three sensors that would all be called `dup`, then `sensor.dup` twice (MqttBoard refuses a name twice).
    for (const t of topics.slice(1)) {
      await retain(t, { stat_t: 'junk/dup', dev });
    }
    await waitFor(() => discovery.devices.get('ha:j')?.capabilities.sensors.length === 3, 'three sensors');
    expect(new Set(discovery.devices.get('ha:j')?.capabilities.sensors).size).toBe(3);
    expect(discovery.devices.get('ha:j')?.capabilities.pins.length).toBe(1);
  });

  /** An ESPHome node with one switch, its retained configs cleared when the test ends. */
  async function esphomeNode(prefix: string, mac: string): Promise<EsphomeDouble> {
    const node = await EsphomeDouble.start(suite.broker.url, prefix, { switches: ['relay'], discovery: { mac } });
    suite.defer(() => node.stop());
    clearAtEnd([`homeassistant/switch/${prefix}/relay/config`, `${prefix}/status`]);
    return node;
  }

  for (const order of ['after the node', 'retained first (a restart)'] as const) {
    it(`a config naming an ESPHome switch's own state and command topics never gets them (${order})`, async () => {
      const evil = 'homeassistant/switch/twin/config';
      clearAtEnd([evil]);
      // The node's own pair: its command topic lies under its state topic's level, so the own-base rule passes it.
      const twin = JSON.stringify({
        name: 'Twin',
        stat_t: 'hall/switch/relay/state',
        cmd_t: 'hall/switch/relay/command',
        uniq_id: 'twin',
      });
      if (order !== 'after the node') await retain(evil, twin);
      await esphomeNode('hall', '84f3eb00e5e5');
      const { discovery } = await discover();
      if (order === 'after the node') {
        await waitFor(() => commandsOf(discovery, 'ha:84f3eb00e5e5').length === 1, 'the node with its switch');
        await retain(evil, twin);
      }
      // Two claims on one command topic: neither has it (the node's switch is greyed out, not taken over).
      await waitFor(
        () => discovery.devices.has('ha:twin') && commandsOf(discovery, 'ha:84f3eb00e5e5').length === 0,
        'neither with the command topic',
      );
      expect(commandsOf(discovery, 'ha:twin')).toEqual([]);
      // The twin goes: the node's switch is its own again.
      await retain(evil, '');
      await waitFor(() => commandsOf(discovery, 'ha:84f3eb00e5e5').length === 1, 'the node with its switch again');
    });
  }

  it("a config republished every few ms loses the topic a plug's claim covers at once, not once it settles", async () => {
    const evil = 'homeassistant/switch/keep/config';
    clearAtEnd([evil, 'tasmota/discovery/DDEEFF00AA01/config', 'tele/plug9/LWT']);
    const hostile = JSON.stringify({
      name: 'Keep',
      '~': 'cmnd/plug9/',
      cmd_t: '~POWER',
      stat_t: 'stat/plug9/POWER',
      uniq_id: 'keep',
    });
    const { discovery } = await discover({ settleMs: 200 });
    await retain(evil, hostile);
    // Before the plug is known, nothing says cmnd/plug9/ is anyone's.
    await waitFor(() => commandsOf(discovery, 'ha:keep').length === 1, 'the config with cmnd/plug9/POWER');
    // Each time a little different, so its configs never settle.
    const stopSpam = await republishEvery(evil, (n) => hostile.replace('"Keep"', `"Keep ${n}"`));
    const plug = await TasmotaDouble.start(suite.broker.url, 'plug9', { discovery: { mac: 'DDEEFF00AA01' } });
    suite.defer(() => plug.stop());
    await waitFor(() => commandsOf(discovery, 'tasmota:DDEEFF00AA01').length === 1, 'the plug with its relay');
    await waitFor(() => commandsOf(discovery, 'ha:keep').length === 0, 'the config without cmnd/plug9/POWER');
    await stopSpam();
  });

  it("components that join a device's id past maxComponents do not take its switch's claim with them", async () => {
    const twinTopic = 'homeassistant/switch/twin/config';
    const filler = 'homeassistant/device/aaa/config'; // sorts before homeassistant/switch/…
    clearAtEnd([twinTopic, filler]);
    await esphomeNode('hall', '84f3eb00e5e5');
    const { discovery } = await discover();
    const NODE = 'ha:84f3eb00e5e5';
    await waitFor(() => commandsOf(discovery, NODE).length === 1, 'the node with its switch');
    const twin = (name: string) =>
      JSON.stringify({ name, stat_t: 'hall/switch/relay/state', cmd_t: 'hall/switch/relay/command', uniq_id: 'twin' });
    await retain(twinTopic, twin('Twin'));
    await waitFor(() => discovery.devices.has('ha:twin') && commandsOf(discovery, NODE).length === 0, 'contested');
    // 64 sensors under the node's (public) device id: the node's switch becomes its 65th component.
    const cmps = Object.fromEntries(
      Array.from({ length: 64 }, (_, i) => [`s${i}`, { p: 'sensor', stat_t: `junk/s${i}` }]),
    );
    await retain(filler, { dev: { ids: '84f3eb00e5e5' }, o: { name: 'x' }, cmps });
    await waitFor(() => discovery.devices.get(NODE)?.capabilities.sensors.length === 64, 'the node rebuilt');
    // The twin changes (so it is rebuilt after the node): still no command topic of the node's.
    await retain(twinTopic, twin('Twin 2'));
    await waitFor(() => discovery.devices.get('ha:twin')?.name === 'Twin 2', 'the twin rebuilt');
    expect(commandsOf(discovery, 'ha:twin')).toEqual([]);
  });

  it("configs filling a device's id up to the topic cap do not take its switch's claim, nor its switch for good", async () => {
    const fillers = Array.from({ length: 4 }, (_, i) => `homeassistant/sensor/fill${i}/config`);
    const evil = 'homeassistant/switch/evil/config';
    clearAtEnd([...fillers, evil]);
    const { discovery, errors } = await discover({ maxComponents: 4 });
    const NODE = 'ha:84f3eb00c4c4';
    // The node's device id (its MAC, public) already has maxComponents discovery topics.
    for (const [i, t] of fillers.entries()) {
      await retain(t, { stat_t: `junk/${i}`, dev: { ids: '84f3eb00c4c4' } });
    }
    await waitFor(() => discovery.devices.get(NODE)?.capabilities.sensors.length === 4, 'the filled device');
    // A config with the node's command topic under a state topic of the node's level: nobody claims it yet.
    await retain(evil, { stat_t: 'hall4/switch/relay/x', cmd_t: 'hall4/switch/relay/command', uniq_id: 'evil' });
    await waitFor(() => commandsOf(discovery, 'ha:evil').length === 1, 'evil with the command topic');
    // The node comes: its switch's config is over the cap (refused) but claims its topics at once.
    await esphomeNode('hall4', '84f3eb00c4c4');
    await waitFor(() => errors.some((e) => e.code === 'too_many_requests'), "the node's switch over the cap");
    await waitFor(() => commandsOf(discovery, 'ha:evil').length === 0, 'evil without the command topic');
    // Evil goes, then one filler: the node's switch config is read again (the discovery subscribes
    // again when a topic of a device frees up) and the node has its switch.
    await clearRetained([evil]);
    await waitFor(() => !discovery.devices.has('ha:evil'), 'evil gone');
    await clearRetained([fillers[0] as string]);
    await waitFor(() => commandsOf(discovery, NODE).length === 1, 'the node with its switch');
  });

  it('when configs over the topic cap have spent their budget, Home Assistant devices get no command topic (fail closed)', async () => {
    // maxDevices 4, maxComponents 2: a budget of 8 configs kept as claims only, all spent by one junk id.
    const junk = Array.from({ length: 10 }, (_, i) => `homeassistant/sensor/junk${i}/config`);
    const fillers = Array.from({ length: 2 }, (_, i) => `homeassistant/sensor/fill5_${i}/config`);
    const evil = 'homeassistant/switch/evil5/config';
    clearAtEnd([...junk, ...fillers, evil]);
    const { discovery, errors } = await discover({ maxDevices: 4, maxComponents: 2 });
    for (const [i, t] of junk.entries()) await retain(t, { stat_t: `junkx/${i}`, dev: { ids: 'junkdev' } });
    await waitFor(() => errors.filter((e) => e.code === 'too_many_requests').length >= 8, 'the budget spent');
    for (const [i, t] of fillers.entries()) await retain(t, { stat_t: `junky/${i}`, dev: { ids: '84f3eb00c5c5' } });
    await waitFor(() => discovery.devices.get('ha:84f3eb00c5c5')?.capabilities.sensors.length === 2, 'the node filled');
    await retain(evil, { stat_t: 'hall5/switch/relay/x', cmd_t: 'hall5/switch/relay/command', uniq_id: 'evil5' });
    await waitFor(() => commandsOf(discovery, 'ha:evil5').length === 1, 'evil with the command topic');
    // The node's switch config finds its topic cap full and the budget spent: what it claims is
    // unknown, so no Home Assistant device keeps a command topic.
    await esphomeNode('hall5', '84f3eb00c5c5');
    await waitFor(() => errors.some((e) => /spent their budget/.test(e.message)), 'claims lost');
    await waitFor(() => commandsOf(discovery, 'ha:evil5').length === 0, 'evil without the command topic');
    // The junk goes: the configs are read again, and the claims are known again (evil and the node contest).
    await clearRetained(junk);
    await waitFor(
      () => discovery.devices.get('ha:84f3eb00c5c5') !== undefined && !discovery.devices.has('ha:junkdev'),
      'junk gone',
    );
    await clearRetained([fillers[0] as string]);
    await waitFor(
      () => errors.some((e) => e.id === 'ha:evil5' && /belongs to device ha:84f3eb00c5c5/.test(e.message)),
      'a contest',
    );
    expect(commandsOf(discovery, 'ha:evil5')).toEqual([]);
  });

  it('places that free up over and over make at most one resend of every retained config a second', async () => {
    const own = await mqtt();
    let subscribes = 0;
    const subscribeAsync = own.subscribeAsync.bind(own);
    (own as { subscribeAsync: unknown }).subscribeAsync = (...args: Parameters<typeof subscribeAsync>) => {
      // The discovery's own filters again (the boards it makes subscribe on this client too).
      const [filters] = args;
      const names = typeof filters === 'string' ? [filters] : Array.isArray(filters) ? filters : Object.keys(filters);
      if (names.some((f) => f.startsWith('homeassistant/') && /[+#]/.test(f))) subscribes++;
      return subscribeAsync(...args);
    };
    const attacker = Array.from({ length: 3 }, (_, i) => `homeassistant/sensor/att${i}/config`);
    clearAtEnd(attacker);
    const discovery = discoverDevices(own, { settleMs: 50, maxComponents: 2 });
    suite.defer(() => discovery.close());
    discovery.on('error', () => undefined); // each config over the cap is reported
    await discovery.ready;
    // One id with a config over its topic cap: every topic of it that goes frees a place.
    for (const [i, t] of attacker.entries()) await retain(t, { stat_t: `a/${i}`, dev: { ids: 'att' } });
    await waitFor(() => discovery.devices.get('ha:att')?.capabilities.sensors.length === 2, 'the attacker id');
    const before = subscribes;
    const started = performance.now();
    for (let n = 0; n < 20; n++) {
      for (const t of attacker) await retain(t, '');
      for (const [i, t] of attacker.entries()) await retain(t, { stat_t: `a/${i}/${n}`, dev: { ids: 'att' } });
      await new Promise((r) => setTimeout(r, 30));
    }
    const seconds = (performance.now() - started) / 1000;
    // One resend at once, then at most one a second (the rest folded into the next).
    const made = `${subscribes - before} resends in ${seconds.toFixed(2)} s`;
    expect(subscribes - before, made).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
    expect(subscribes - before, made).toBeGreaterThanOrEqual(1);
  });

  it("Tasmota's default GroupTopic and FallbackTopic are its claims too", async () => {
    const configs = ['homeassistant/switch/grp/config', 'homeassistant/switch/fb/config'];
    clearAtEnd([...configs, 'tasmota/discovery/A1B2C3D4E5F6/config', 'tele/plug7/LWT']);
    const plug = await TasmotaDouble.start(suite.broker.url, 'plug7', { discovery: { mac: 'A1B2C3D4E5F6' } });
    suite.defer(() => plug.stop());
    const { discovery, errors } = await discover();
    await waitFor(() => commandsOf(discovery, 'tasmota:A1B2C3D4E5F6').length === 1, 'the plug');
    // A real Tasmota runs cmnd/tasmotas/… and cmnd/DVES_<last 6 MAC digits>_fb/… as its own commands.
    await retain(configs[0] as string, {
      '~': 'cmnd/tasmotas/',
      cmd_t: '~POWER',
      stat_t: 'stat/plug7/POWER',
      uniq_id: 'grp',
    });
    await retain(configs[1] as string, {
      '~': 'cmnd/DVES_D4E5F6_fb/',
      cmd_t: '~POWER',
      stat_t: 'stat/plug7/POWER',
      uniq_id: 'fb',
    });
    await waitFor(
      () => ['ha:grp', 'ha:fb'].every((id) => errors.some((e) => e.id === id && e.code === 'forbidden')),
      'both refused',
    );
    expect(commandsOf(discovery, 'ha:grp')).toEqual([]);
    expect(commandsOf(discovery, 'ha:fb')).toEqual([]);
    expect(commandsOf(discovery, 'tasmota:A1B2C3D4E5F6')).toEqual(['cmnd/plug7/POWER']);
  });

  it('a device that republishes the same config every few ms is still built', async () => {
    const topic = 'homeassistant/sensor/chatty/config';
    clearAtEnd([topic]);
    const { discovery } = await discover({ settleMs: 200 });
    const config = JSON.stringify({ name: 'Chatty', stat_t: 'chatty/t', uniq_id: 'chatty' });
    const stopSpam = await republishEvery(topic, () => config);
    await waitFor(() => discovery.devices.has('ha:chatty'), 'the device built');
    await stopSpam();
  });

  it('a Tasmota config with other prefixes is no standard Tasmota: an ESPHome switch its stat base covers is contested, and comes back', async () => {
    const fake = 'tasmota/discovery/BADBAD00F301/config';
    clearAtEnd([fake]);
    await esphomeNode('hall3', '84f3eb00f3f3');
    const { discovery } = await discover();
    await waitFor(() => commandsOf(discovery, 'ha:84f3eb00f3f3').length === 1, 'the node with its switch');
    // Bases cmnd/switch/, hall3/switch/ (over the node's command topic), tele/switch/.
    await retain(fake, { mac: 'BADBAD00F301', t: 'switch', tp: ['cmnd', 'hall3', 'tele'], rl: [1] });
    await waitFor(
      () => discovery.devices.has('tasmota:BADBAD00F301') && commandsOf(discovery, 'ha:84f3eb00f3f3').length === 0,
      'the node without its switch',
    );
    // A contest, not precedence: the node stays (a board with nothing to switch), and gets its switch back.
    expect(discovery.devices.has('ha:84f3eb00f3f3')).toBe(true);
    await retain(fake, '');
    await waitFor(() => commandsOf(discovery, 'ha:84f3eb00f3f3').length === 1, 'the node with its switch again');
  });

  it('a device payload with more components than maxComponents is refused before anything is kept', async () => {
    const topic = 'homeassistant/device/many/config';
    clearAtEnd([topic]);
    const { discovery, errors } = await discover({ maxComponents: 4 });
    const cmps = Object.fromEntries(
      Array.from({ length: 5 }, (_, i) => [`s${i}`, { p: 'sensor', stat_t: `many/s${i}`, uniq_id: `many-s${i}` }]),
    );
    await retain(topic, { dev: { ids: 'many' }, o: { name: 'x' }, cmps });
    await waitFor(() => errors.some((e) => e.code === 'too_many_requests'), 'refused');
    expect(discovery.devices.has('ha:many')).toBe(false);
  });

  it('untrusted input is bounded: other prefixes, wildcards, oversized payloads, too many devices', async () => {
    const topics: string[] = [];
    const publish = async (topic: string, body: object | string) => {
      topics.push(topic);
      await retain(topic, body);
    };
    clearAtEnd(topics);
    const { discovery, devices, errors } = await discover({
      homeAssistantPrefix: 'ha-test',
      tasmotaPrefix: false,
      maxDevices: 2,
      maxPayloadBytes: 4096,
    });
    const sensor = (id: string, extra: object = {}) => ({
      name: id,
      stat_t: `things/${id}/state`,
      uniq_id: id,
      ...extra,
    });
    // Not under the configured prefix: never read.
    await publish('homeassistant/sensor/outside/config', sensor('outside'));
    // A wildcard state topic would widen the board's subscription to everything.
    await publish('ha-test/sensor/wild/config', sensor('wild', { stat_t: 'things/#' }));
    await publish('ha-test/sensor/big/config', sensor('big', { name: 'x'.repeat(5000) }));
    await publish('ha-test/sensor/notjson/config', '{"name":');
    await publish('ha-test/sensor/one/config', sensor('one'));
    await publish('ha-test/sensor/two/config', sensor('two'));
    await publish('ha-test/sensor/three/config', sensor('three'));
    await waitFor(() => devices.length === 2, 'two devices');
    await waitFor(() => errors.some((e) => e.code === 'too_many_clients'), 'the cap');
    expect([...discovery.devices.keys()].sort()).toEqual(['ha:one', 'ha:two']);
    const codes = errors.map((e) => e.code);
    expect(codes).toContain('payload_too_large');
    expect(codes).toContain('invalid_payload');
    expect(errors.find((e) => /sensor\/wild\/config/.test(e.message))?.message).toMatch(
      /state_topic is not a topic without wildcards/,
    );
    expect(codes.filter((c) => c === 'too_many_clients')).toHaveLength(1);
    // A device goes: room for the refused config, which the broker sends again.
    await publish('ha-test/sensor/one/config', '');
    await waitFor(() => discovery.devices.has('ha:three'), 'three accepted');
    expect([...discovery.devices.keys()].sort()).toEqual(['ha:three', 'ha:two']);
  });

  it('a device whose configs change is announced again under the same id; allowCommandTopic refuses; removing every config removes it', async () => {
    const topics = clearAtEnd([
      'homeassistant/switch/garage/door/config',
      'homeassistant/switch/garage/light/config',
      'homeassistant/sensor/garage/temp/config',
      'homeassistant/button/garage/restart/config',
    ]);
    const dev = { ids: 'garage-node', name: 'Garage', sw: '1.2' };
    const { devices, removed, errors } = await discover({
      allowCommandTopic: (topic) => !topic.endsWith('/light/set'),
    });
    // A platform no board can use, before any other config of its device: no error, kept for `skipped`.
    await retain(topics[3] as string, { name: 'Restart', cmd_t: 'garage/restart', dev });
    await retain(topics[0] as string, { name: 'Door', '~': 'garage/door', cmd_t: '~/set', stat_t: '~/state', dev });
    await waitFor(() => devices.length === 1, 'first announcement');
    const first = devices[0] as DiscoveredDevice;
    expect(first.id).toBe('ha:garage-node');
    expect(first.capabilities.pins.map((p) => p.pin)).toEqual(['door']);
    expect(first.skipped).toEqual([
      { component: 'button/restart', reason: expect.stringMatching(/platform "button"/) },
    ]);
    expect(errors).toEqual([]);

    // A second switch the app's policy refuses, and a sensor: announced again, same id, new board.
    await retain(topics[1] as string, { name: 'Light', '~': 'garage/light', cmd_t: '~/set', stat_t: '~/state', dev });
    await retain(topics[2] as string, { name: 'Temp', stat_t: 'garage/temp', unit_of_meas: '°C', dev });
    await waitFor(() => devices.at(-1)?.capabilities.sensors.length === 1, 'second announcement');
    const second = devices.at(-1) as DiscoveredDevice;
    expect(second.id).toBe(first.id);
    expect(second.capabilities.pins.map((p) => p.pin)).toEqual(['door']);
    expect(second.skipped).toEqual([
      { component: 'button/restart', reason: expect.stringMatching(/platform "button"/) },
      { component: 'switch/light', reason: 'command topic "garage/light/set" refused by allowCommandTopic' },
    ]);
    expect(errors.some((e) => e.code === 'forbidden' && e.id === 'ha:garage-node')).toBe(true);
    await expect(first.board.digitalWrite('door', 1)).rejects.toMatchObject({ code: 'closed' });

    for (const t of topics) await retain(t, '');
    await waitFor(() => removed.length === 1, 'removed');
    expect(removed).toEqual(['ha:garage-node']);
    await expect(second.board.readSensor('temp')).rejects.toMatchObject({ code: 'closed' });
  });

  it('device discovery: a component id outside [A-Za-z0-9_-] is skipped; a component reduced to its platform is removed', async () => {
    const topic = 'homeassistant/device/odd/config';
    clearAtEnd([topic]);
    const { devices } = await discover();
    const payload = (cmps: object) =>
      JSON.stringify({ dev: { ids: 'odd-node' }, o: { name: 'bla2mqtt' }, stat_t: 'odd/state', cmps });
    await retain(
      topic,
      payload({
        'bad id\u202e': { p: 'sensor', val_tpl: '{{ value_json.a }}' },
        temp: { p: 'sensor', val_tpl: '{{ value_json.t }}' },
        hum: { p: 'sensor', val_tpl: '{{ value_json.h }}' },
      }),
    );
    await waitFor(() => devices.length === 1, 'the device');
    expect([...(devices[0]?.capabilities.sensors ?? [])].sort()).toEqual(['hum', 'temp']);
    expect(devices[0]?.skipped).toEqual([
      { component: 'sensor/bad id\u202e', reason: 'a component id must be 1 to 64 of [A-Za-z0-9_-]' },
    ]);
    // The docs' way to remove one component of a device payload: leave only its platform.
    await retain(topic, payload({ temp: { p: 'sensor', val_tpl: '{{ value_json.t }}' }, hum: { p: 'sensor' } }));
    await waitFor(() => devices.length === 2, 'the device again');
    expect(devices[1]?.id).toBe(devices[0]?.id);
    expect(devices[1]?.capabilities.sensors).toEqual(['temp']);
  });
});
