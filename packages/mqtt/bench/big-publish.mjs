// Resident memory of an MqttBoard and a bridge when an anonymous peer
// publishes one 100 MB message to a topic they subscribe to (issue 27).
//
//   pnpm --filter @boardcast/mqtt build && node packages/mqtt/bench/big-publish.mjs
//
// Starts mosquitto on a free port of 127.0.0.1 (MOSQUITTO=/path overrides
// /usr/sbin/mosquitto; its default max_packet_size, i.e. none below MQTT's
// 256 MB). Each case runs in its own Node process so RSS figures do not mix:
//   board  — MqttBoard subscribed to a sensor topic
//   bridge — bridgeHub subscribed to <prefix>/commands/+
// each with its client made by plain `mqtt.connect` ("before": what the
// packages did until now) and by `connectMqtt` ("after": maximumPacketSize
// 128 KiB), on MQTT 3.1.1 and MQTT 5. The parent publishes SIZE_MB (default
// 100) at QoS 1, waits for the broker's PUBACK and 3 s more, then asks for
// RSS; again after SETTLE_S (default 15) seconds. Prints one line per case.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startMosquitto } from './mosquitto.mjs';

const SIZE_MB = Number(process.env.SIZE_MB ?? 100);
const SETTLE_S = Number(process.env.SETTLE_S ?? 15);
const self = fileURLToPath(import.meta.url);
const mb = (bytes) => (bytes / 1024 / 1024).toFixed(0);

if (process.argv[2] === 'child')
  await child(process.argv[3], process.argv[4], process.argv[5], Number(process.argv[6]));
else await parent();

async function child(url, kind, guard, protocolVersion) {
  const { connect } = await import('mqtt');
  const { bridgeHub, connectMqtt, MqttBoard } = await import('../dist/index.js');
  const { createHub, defineContract, typed } = await import('@boardcast/core');
  const errors = [];
  let ready;
  if (kind === 'board') {
    const options = { protocolVersion, reconnectPeriod: 1000 };
    const board = new MqttBoard({
      id: 'bench',
      ...(guard === 'after' ? { url, mqtt: options } : { client: connect(url, options) }),
      topics: { sensors: [{ name: 't', state: 'bench/sensor' }] },
    });
    board.on('error', (e) => errors.push(e.code ?? e.message));
    ready = new Promise((resolve) => board.on('status', (s) => s === 'online' && resolve()));
  } else {
    const contract = defineContract({
      events: {},
      commands: { led: { input: typed(), result: typed() } },
      state: typed(),
    });
    const hub = createHub(contract, { state: {} });
    hub.handle('led', () => true);
    const options = { protocolVersion, reconnectPeriod: 1000 };
    const client = guard === 'after' ? connectMqtt(url, options) : connect(url, options);
    client.on('error', (e) => errors.push(e.code ?? e.message));
    const bridge = bridgeHub(hub, client, { prefix: 'bench/app', state: false });
    bridge.on('error', (e) => errors.push(e.code ?? e.message));
    ready = bridge.ready;
  }
  await ready;
  process.send({ type: 'ready', rss: process.memoryUsage().rss });
  process.on('message', (m) => {
    if (m === 'rss') process.send({ type: 'rss', rss: process.memoryUsage().rss, errors: [...new Set(errors)] });
    if (m === 'exit') process.exit(0);
  });
}

async function parent() {
  const { connectAsync } = await import('mqtt');
  const broker = await startMosquitto();
  const payload = Buffer.alloc(SIZE_MB * 1024 * 1024, 0x61);
  console.log(`node ${process.version}, mosquitto on ${broker.url}, ${SIZE_MB} MB QoS 1 publish, RSS in MB`);
  console.log('case                          | before publish | 3 s after | +%d s | errors', SETTLE_S);
  try {
    for (const kind of ['board', 'bridge']) {
      for (const protocolVersion of [4, 5]) {
        for (const guard of ['before', 'after']) {
          const proc = fork(self, ['child', broker.url, kind, guard, String(protocolVersion)], { stdio: 'inherit' });
          const next = () => new Promise((resolve) => proc.once('message', resolve));
          const ready = await next();
          const pub = await connectAsync(broker.url, { protocolVersion: 4 });
          const topic = kind === 'board' ? 'bench/sensor' : 'bench/app/commands/led';
          await pub.publishAsync(topic, payload, { qos: 1 });
          await pub.endAsync();
          await new Promise((r) => setTimeout(r, 3000));
          proc.send('rss');
          const soon = await next();
          await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
          proc.send('rss');
          const later = await next();
          proc.send('exit');
          await new Promise((r) => proc.once('exit', r));
          const name = `${kind} MQTT ${protocolVersion === 5 ? '5    ' : '3.1.1'} ${guard}`.padEnd(29);
          console.log(
            `${name} | ${mb(ready.rss).padStart(14)} | ${mb(soon.rss).padStart(9)} | ${mb(later.rss).padStart(5)} | ${later.errors.join(', ') || '-'}`,
          );
        }
      }
    }
  } finally {
    await broker.stop();
  }
}
