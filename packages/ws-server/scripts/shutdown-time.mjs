/**
 * How long a graceful shutdown takes with 1,000 open WebSocket clients and
 * 100 upgrade requests nobody answers (issue 17). Runs against the built
 * packages:
 *
 *   pnpm --filter @boardcast/core --filter @boardcast/ws-server build
 *   node packages/ws-server/scripts/shutdown-time.mjs [sockets=1000] [upgrades=100] [runs=5] [stalledPercent=10]
 *
 * Each run: a node:http server with the WebSocket endpoint; `sockets` real
 * `ws` clients, `stalledPercent` of which stopped reading (they cannot see our close
 * frame, so they are terminated after closeTimeoutMs, default 5000 ms);
 * `upgrades` upgrade requests to a path nobody serves, left to a second
 * `upgrade` listener that never answers. Shutdown = `server.close()`, then
 * `endpoint.close()`; timed until the server's close callback, i.e. until
 * every socket is gone.
 */
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createHub, defineContract, typed } from '@boardcast/core';
import { WS_PROTOCOL } from '@boardcast/core/wire';
import { createWsEndpoint } from '@boardcast/ws-server';
import { WebSocket } from 'ws';
import { accepted, timeRuns, unansweredUpgrades, until } from '../../../scripts/shutdown-timing.mjs';

const [sockets = 1000, upgrades = 100, runs = 5, stalledPercent = 10] = process.argv.slice(2).map(Number);
const contract = defineContract({ events: { blob: typed() }, commands: {}, state: typed() });

async function run() {
  const hub = createHub(contract, { state: {}, history: 10 });
  const server = createServer((_req, res) => res.end('page'));
  const endpoint = createWsEndpoint(hub, { server, maxClients: sockets + 10 });
  server.on('upgrade', () => undefined); // a foreign listener that never answers
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();

  const clients = [];
  for (let i = 0; i < sockets; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, WS_PROTOCOL);
    ws.on('error', () => undefined);
    if (i % 100 < stalledPercent) ws.once('open', () => ws._socket.pause()); // stopped reading
    clients.push(ws);
  }
  await until(() => endpoint.clientCount === sockets, `${sockets} sockets`);

  const pending = unansweredUpgrades(port, upgrades);
  await accepted(server, sockets + upgrades);

  const start = performance.now();
  const closed = new Promise((resolve) => server.close(resolve));
  await endpoint.close();
  await closed;
  const ms = performance.now() - start;
  for (const ws of clients) ws.terminate();
  for (const socket of pending) socket.destroy();
  await hub.close();
  return ms;
}

console.log(
  `graceful shutdown, ${sockets} WebSocket clients (${stalledPercent}% not reading) + ${upgrades} unanswered upgrades: ${await timeRuns(runs, run)}`,
);
