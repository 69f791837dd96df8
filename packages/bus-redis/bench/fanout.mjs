// Fan-out through Redis vs the in-memory bus.
//
//   pnpm --filter @boardcast/bus-redis build && node packages/bus-redis/bench/fanout.mjs
//
// Starts its own redis-server on a free port (REDIS_SERVER=/path overrides
// /usr/bin/redis-server), then runs two scenarios with the same number of
// deliveries: two hubs on RedisBus (two instances, separate connections,
// one process) with CLIENTS hub clients each, and one hub on MemoryBus with
// 2 × CLIENTS clients. Clients are hub.attach() sinks: this measures the
// bus and the hub fan-out, not socket writes (that is the transports' bench).
// Latency = from the publish call to the client's sink, per delivery.
// Bounded: EVENTS events (default 2000), WINDOW publishes in flight (32).
import { spawn } from 'node:child_process';
import { createHub, defineContract, MemoryBus, typed } from '@boardcast/core';
import { freePort } from '../../../test-support/ports.mjs';
import { RedisBus } from '../dist/index.js';

const CLIENTS = Number(process.env.CLIENTS ?? 1000);
const EVENTS = Number(process.env.EVENTS ?? 2000);
const WINDOW = Number(process.env.WINDOW ?? 32);
const contract = defineContract({ events: { tick: typed() }, commands: {}, state: typed() });

async function startRedis() {
  const port = await freePort();
  const proc = spawn(process.env.REDIS_SERVER ?? '/usr/bin/redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) resolve();
    });
    proc.once('exit', () => reject(new Error(out)));
  });
  return { url: `redis://127.0.0.1:${port}`, stop: () => proc.kill('SIGKILL') };
}

function attachClients(hub, n, sent, latencies) {
  let delivered = 0;
  for (let i = 0; i < n; i++) {
    hub.attach(
      {},
      {
        snapshot() {},
        reset() {},
        event(e) {
          delivered++;
          latencies.push(performance.now() - sent.get(e.data));
        },
      },
    );
  }
  return () => delivered;
}

async function run(name, hubs, clientsPerHub) {
  const sent = new Map();
  const latencies = [];
  const counters = hubs.map((hub) => attachClients(hub, clientsPerHub, sent, latencies));
  const total = () => counters.reduce((sum, c) => sum + c(), 0);
  const expected = EVENTS * hubs.length * clientsPerHub;
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < EVENTS) {
      const n = next++;
      sent.set(n, performance.now());
      await hubs[n % hubs.length].publish('tick', n);
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  while (total() < expected) await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))].toFixed(2);
  console.log(
    `${name.padEnd(34)} ${String(expected).padStart(8)} deliveries  ${Math.round(expected / seconds)
      .toString()
      .padStart(9)} deliveries/s  ${Math.round(EVENTS / seconds)} events/s  p50 ${pct(0.5)} ms  p99 ${pct(0.99)} ms`,
  );
}

const redis = await startRedis();
try {
  console.log(`node ${process.version}, ${EVENTS} events, ${WINDOW} publishes in flight`);
  const memory = createHub(contract, { state: null, bus: new MemoryBus({ history: 1000 }) });
  await run(`memory bus, 1 hub × ${2 * CLIENTS} clients`, [memory], 2 * CLIENTS);
  await memory.close();

  const a = createHub(contract, { state: null, bus: new RedisBus({ redis: redis.url, name: 'bench' }) });
  const b = createHub(contract, { state: null, bus: new RedisBus({ redis: redis.url, name: 'bench' }) });
  await Promise.all([a.bus.ready, b.bus.ready]);
  await run(`redis bus, 2 hubs × ${CLIENTS} clients`, [a, b], CLIENTS);
  await Promise.all([a.close(), b.close()]);
} finally {
  redis.stop();
}
