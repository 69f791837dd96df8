#!/usr/bin/env node
/**
 * Publish cost with contract reducers vs without, at 1,000 clients (issue 15:
 * folding state on every publish must cost nothing measurable).
 *
 *   pnpm --filter @boardcast/core --filter @boardcast/sse-server build
 *   node bench/reducers.mjs [--clients 1000] [--events 500] [--rounds 3]
 *
 * Two measurements, each alternating "no reducers" / "reducers" rounds and
 * reporting medians:
 * - hub: `hub.publish` with 1,000 attached in-memory sinks that take the
 *   shared SSE frame (the hub's own cost: validation, serialize, fold, fan-out);
 * - sse: the same hub behind @boardcast/sse-server with 1,000 real SSE
 *   connections on 127.0.0.1 held by a child process; server CPU (user+sys)
 *   per publish until every client has every event.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createHub, defineContract, typed } from '@boardcast/core';
import { boardcastHttp } from '@boardcast/sse-server';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const CLIENTS = arg('clients', 1000);
const EVENTS = arg('events', 500);
const ROUNDS = arg('rounds', 3);

const events = { tick: typed(), note: typed() };
const state = typed();
const plain = defineContract({ events, commands: {}, state });
// A reducer like the examples' (spread, one nested object), on every event.
const folding = defineContract({
  events,
  commands: {},
  state,
  reducers: { tick: (s, t) => ({ ...s, tick: { n: t.n, at: t.at }, count: s.count + 1 }) },
});
const initial = { tick: { n: 0, at: 0 }, count: 0, label: 'bench' };
const payload = (n) => ({ n, at: Date.now(), pad: 'x'.repeat(60) }); // ~100 bytes of JSON

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function hubRound(contract) {
  const hub = createHub(contract, { state: initial, history: 1000 });
  let bytes = 0;
  for (let i = 0; i < CLIENTS; i++) {
    hub.attach({}, { snapshot: (s) => (bytes += s.sse.length), event: (e) => (bytes += e.sse.length), reset() {} });
  }
  for (let n = 0; n < 200; n++) await hub.publish('tick', payload(n)); // warm-up
  const started = process.hrtime.bigint();
  for (let n = 0; n < EVENTS; n++) await hub.publish('tick', payload(n));
  const ns = Number(process.hrtime.bigint() - started);
  await hub.close();
  if (bytes === 0) throw new Error('no frames delivered');
  return ns / EVENTS / 1000; // µs per publish
}

async function sseRound(contract) {
  const hub = createHub(contract, { state: initial, history: EVENTS + 10 });
  const api = boardcastHttp(hub, { sse: { maxClients: CLIENTS + 10 } });
  const server = createServer(api.node).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const child = fork(fileURLToPath(import.meta.url), ['--client'], { stdio: 'inherit' });
  child.send({ port: server.address().port, clients: CLIENTS, events: EVENTS });
  await new Promise((resolve) => child.once('message', resolve)); // all connected
  await new Promise((resolve) => setTimeout(resolve, 200));
  const done = new Promise((resolve) => child.once('message', resolve));
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let n = 0; n < EVENTS; n++) {
    void hub.publish('tick', payload(n));
    if (n % 20 === 19) await new Promise((resolve) => setImmediate(resolve)); // let sockets drain
  }
  await done;
  const used = process.cpuUsage(cpu);
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  child.kill();
  api.close();
  await hub.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  return { cpuUs: (used.user + used.system) / EVENTS, wallMs };
}

async function clientMain() {
  const net = await import('node:net');
  const [{ port, clients, events: expected }] = await once(process, 'message');
  let connected = 0;
  let complete = 0;
  for (let i = 0; i < clients; i++) {
    const socket = net.connect(port, '127.0.0.1');
    let seen = 0;
    let tail = '';
    socket.setEncoding('utf8');
    socket.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    socket.once('data', () => {
      if (++connected === clients) process.send('connected');
    });
    socket.on('data', (chunk) => {
      const text = tail + chunk;
      let at = text.indexOf('event: tick\n');
      while (at >= 0) {
        seen++;
        at = text.indexOf('event: tick\n', at + 1);
      }
      tail = text.slice(-11);
      if (seen === expected && ++complete === clients) process.send('done');
    });
  }
}

if (process.argv.includes('--client')) {
  await clientMain();
} else {
  console.log(`${CLIENTS} clients, ${EVENTS} events per round, ${ROUNDS} rounds, medians; node ${process.version}\n`);
  const hub = { plain: [], folding: [] };
  const sse = { plain: [], folding: [] };
  for (let r = 0; r < ROUNDS; r++) {
    hub.plain.push(await hubRound(plain));
    hub.folding.push(await hubRound(folding));
  }
  console.log(
    `hub.publish + fan-out to ${CLIENTS} sinks: no reducers ${median(hub.plain).toFixed(1)} µs, reducers ${median(hub.folding).toFixed(1)} µs per publish`,
  );
  for (let r = 0; r < ROUNDS; r++) {
    sse.plain.push(await sseRound(plain));
    sse.folding.push(await sseRound(folding));
  }
  const cpu = (xs) => median(xs.map((x) => x.cpuUs)).toFixed(0);
  const wall = (xs) => median(xs.map((x) => x.wallMs)).toFixed(0);
  console.log(
    `SSE server, ${CLIENTS} real connections: no reducers ${cpu(sse.plain)} µs CPU per publish (${wall(sse.plain)} ms wall), reducers ${cpu(sse.folding)} µs (${wall(sse.folding)} ms wall)`,
  );
  console.log(`raw rounds: ${JSON.stringify({ hub, sse })}`);
}
