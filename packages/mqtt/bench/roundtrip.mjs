// MQTT board latency through a real mosquitto.
//
//   pnpm --filter @boardcast/mqtt build && node packages/mqtt/bench/roundtrip.mjs
//
// Starts mosquitto on a free port of 127.0.0.1 (MOSQUITTO=/path overrides
// /usr/sbin/mosquitto) and a Tasmota-like device in its own Node process.
//  1. Command → confirmed state: COMMANDS (default 1000) sequential
//     board.digitalWrite() calls, alternating ON/OFF; each resolves when the
//     device's stat/<t>/RESULT or stat/<t>/POWER report arrives.
//  2. Sensor message → page: the device publishes tele/<t>/SENSOR at RATE
//     (default 100) messages/s for SENSOR_MESSAGES (default 1000); the board
//     turns each into a hub `reading` event served over SSE by
//     @boardcast/sse-server, read by an `eventsource` client in this process.
//     Each message's value is the device's publish instant (epoch ms from
//     performance.timeOrigin + now(), same machine clock), so latency = SSE
//     client receive instant - value.
// BROKER_NODELAY=1 adds `set_tcp_nodelay true` to mosquitto's configuration
// (its default is false: Nagle's algorithm on every socket it writes, which
// costs ~40 ms per command round trip; see the README). DEVICE_NODELAY=1 sets
// TCP_NODELAY on the device's socket (ESPHome and Tasmota's lwIP defaults
// differ; off by default here). MqttBoard always sets it on its own socket.
// Prints p50/p90/p99/max in ms.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createHub, defineContract, typed } from '@boardcast/core';
import { boardcastHttp } from '@boardcast/sse-server';
import { EventSource } from 'eventsource';
import { MqttBoard, tasmota } from '../dist/index.js';
import { startMosquitto } from './mosquitto.mjs';

const COMMANDS = Number(process.env.COMMANDS ?? 1000);
const RATE = Number(process.env.RATE ?? 100);
const SENSOR_MESSAGES = Number(process.env.SENSOR_MESSAGES ?? 1000);
const here = fileURLToPath(new URL('.', import.meta.url));

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(2);
  return `n=${s.length} p50=${q(0.5)} p90=${q(0.9)} p99=${q(0.99)} max=${s.at(-1).toFixed(2)} ms`;
}

const broker = await startMosquitto(process.env.BROKER_NODELAY === '1' ? ['set_tcp_nodelay true'] : []);
// Whatever happens below, the broker and its directory go with this process.
process.on('exit', () => broker.kill());
const url = broker.url;

const device = spawn(process.execPath, [join(here, 'device.mjs'), url, 'bench'], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const deviceLines = createInterface({ input: device.stdout });
const nextLine = () => new Promise((resolve) => deviceLines.once('line', resolve));
await nextLine(); // ready

const board = new MqttBoard({
  id: 'bench',
  url,
  topics: tasmota('bench', { sensors: { sent: 'BENCH.T' } }),
  resyncTimeoutMs: 5000,
});
board.on('error', (e) => console.error('board error', e.message));
while (board.status !== 'online') await new Promise((r) => setTimeout(r, 10));

// ---- 1. command → confirmed state
for (let i = 0; i < 20; i++) await board.digitalWrite('POWER', i % 2 ? 1 : 0); // warm-up
const rtt = [];
for (let i = 0; i < COMMANDS; i++) {
  const t0 = performance.now();
  await board.digitalWrite('POWER', i % 2 === 0 ? 1 : 0);
  rtt.push(performance.now() - t0);
}
console.log(`command → confirmed state (${COMMANDS} sequential writes): ${stats(rtt)}`);

// ---- 2. sensor message → SSE client
const contract = defineContract({
  events: { reading: typed() },
  commands: {},
  state: typed(),
});
const hub = createHub(contract, { state: {} });
board.on('reading', (r) => void hub.publish('reading', r));
const api = boardcastHttp(hub, { base: '/api' });
const server = createServer(api.node);
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const source = new EventSource(`http://127.0.0.1:${server.address().port}/api/events`);
await new Promise((r) => source.addEventListener('snapshot', r, { once: true }));
const lat = [];
source.addEventListener('reading', (e) => {
  lat.push(performance.timeOrigin + performance.now() - JSON.parse(e.data).value);
});
const t0 = performance.now();
device.stdin.write(`sensor ${SENSOR_MESSAGES} ${RATE}\n`);
await nextLine(); // sent
while (lat.length < SENSOR_MESSAGES && performance.now() - t0 < SENSOR_MESSAGES * (1000 / RATE) + 10_000) {
  await new Promise((r) => setTimeout(r, 20));
}
console.log(`sensor message → SSE client at ${RATE} msg/s: ${stats(lat)} (${lat.length}/${SENSOR_MESSAGES} arrived)`);

source.close();
server.closeAllConnections();
server.close();
await hub.close().catch(() => undefined);
await board.close();
device.stdin.end();
await new Promise((r) => device.once('exit', r));
process.exit(0);
