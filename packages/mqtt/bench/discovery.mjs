// Discovery at fleet size: how long until N retained Tasmota discovery
// configs (and their LWT) on a real mosquitto are N online boards, and the
// memory of the process that holds them.
//
//   pnpm --filter @boardcast/mqtt build && node packages/mqtt/bench/discovery.mjs
//
// DEVICES (default 1000) configs `tasmota/discovery/<MAC>/config` with one
// relay and one sensor each, `tele/<t>/LWT Online`, all retained; then one
// `discoverDevices(url, { maxDevices: DEVICES })` in this process. Each
// board asks its relay's state after connecting (Tasmota does not retain
// it) and its sensor (`STATUS 10`); a responder client answers them as the
// devices would. Prints the time to all `device` events, to all boards online, RSS
// and heap after, and the time for one relay write round trip afterwards.
import { connectAsync } from 'mqtt';
import { discoverDevices } from '../dist/index.js';
import { startMosquitto } from './mosquitto.mjs';

const DEVICES = Number(process.env.DEVICES ?? 1000);
const mb = (bytes) => (bytes / 1024 / 1024).toFixed(0);

const broker = await startMosquitto(['set_tcp_nodelay true', 'max_queued_messages 100000']);
try {
  const publisher = await connectAsync(broker.url);
  const macs = Array.from({ length: DEVICES }, (_, i) =>
    (0xa4cf12000000 + i).toString(16).toUpperCase().padStart(12, '0'),
  );
  for (const mac of macs) {
    const t = `plug_${mac.slice(-6)}`;
    const config = {
      mac,
      dn: 'Tasmota',
      fn: [t],
      md: 'Sonoff Basic',
      sw: '13.2.0',
      t,
      ft: '%prefix%/%topic%/',
      tp: ['cmnd', 'stat', 'tele'],
      rl: [1, 0, 0, 0, 0, 0, 0, 0],
      swc: [-1, -1, -1, -1, -1, -1, -1, -1],
      so: { 114: 0 },
      onln: 'Online',
      ofln: 'Offline',
      ver: 1,
    };
    await publisher.publishAsync(`tasmota/discovery/${mac}/config`, JSON.stringify(config), { retain: true, qos: 1 });
    await publisher.publishAsync(
      `tasmota/discovery/${mac}/sensors`,
      JSON.stringify({ sn: { Time: '2026-12-07T00:00:00', ANALOG: { A0: 512 } }, ver: 1 }),
      { retain: true, qos: 1 },
    );
    await publisher.publishAsync(`tele/${t}/LWT`, 'Online', { retain: true, qos: 1 });
  }
  // Every plug answers its POWER query and commands, as Tasmota does.
  const relays = new Map();
  publisher.on('message', (topic, payload) => {
    const m = /^cmnd\/([^/]+)\/(POWER|STATUS)$/.exec(topic);
    if (!m) return;
    const p = payload.toString().toUpperCase();
    if (m[2] === 'STATUS') {
      if (p === '10') publisher.publish(`stat/${m[1]}/STATUS10`, '{"StatusSNS":{"ANALOG":{"A0":512}}}');
      return;
    }
    if (p === 'ON' || p === 'OFF') relays.set(m[1], p);
    publisher.publish(`stat/${m[1]}/POWER`, relays.get(m[1]) ?? 'OFF');
  });
  await publisher.subscribeAsync('cmnd/+/+');

  const rssBefore = process.memoryUsage().rss;
  const start = performance.now();
  let found = 0;
  let foundAt = 0;
  const discovery = discoverDevices(broker.url, { maxDevices: DEVICES, board: { resyncTimeoutMs: 60_000 } });
  discovery.on('error', (error) => console.error(error));
  const online = new Set();
  const allOnline = new Promise((resolve) => {
    discovery.on('status', (id, status) => {
      if (status === 'online') online.add(id);
      if (online.size === DEVICES) resolve();
    });
  });
  discovery.on('device', () => {
    if (++found === DEVICES) foundAt = performance.now() - start;
  });
  await allOnline;
  const onlineAt = performance.now() - start;
  global.gc?.();
  const mem = process.memoryUsage();
  const device = discovery.devices.values().next().value;
  const t0 = performance.now();
  await device.board.digitalWrite('POWER', 1);
  const write = performance.now() - t0;
  console.log(`node ${process.version}, ${DEVICES} Tasmota devices discovered from retained configs`);
  console.log(
    `all ${DEVICES} device events: ${(foundAt / 1000).toFixed(2)} s; all online: ${(onlineAt / 1000).toFixed(2)} s`,
  );
  console.log(
    `RSS ${mb(rssBefore)} → ${mb(mem.rss)} MB, heap used ${mb(mem.heapUsed)} MB; one relay write then: ${write.toFixed(1)} ms`,
  );
  await discovery.close();
  await publisher.endAsync();
} finally {
  await broker.stop();
}
