/**
 * How long a graceful shutdown takes with 1,000 open SSE streams and 100
 * upgrade requests nobody answers (issue 17). Runs against the built
 * packages:
 *
 *   pnpm --filter @boardcast/core --filter @boardcast/sse-server build
 *   node packages/sse-server/scripts/shutdown-time.mjs [streams=1000] [upgrades=100] [runs=5]
 *
 * Each run: a node:http server with the SSE endpoint and a WebSocket-style
 * route registered with core's upgrade registry (what ws-server does);
 * `streams` clients on real sockets, a tenth of which stopped reading with a
 * backlog queued for them; `upgrades` upgrade requests to a path nobody
 * serves, left to a second `upgrade` listener that never answers (the worst
 * case: the registry leaves them to it). Shutdown = `sse.close()`, the route
 * unregistered (the WS endpoint's close()), `server.close()`; timed until
 * the server's close callback, i.e. until every socket is gone.
 */
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createHub, defineContract, typed } from '@boardcast/core';
import { registerUpgrade } from '@boardcast/core/server';
import { createSseEndpoint } from '@boardcast/sse-server';
import { accepted, timeRuns, unansweredUpgrades, until } from '../../../scripts/shutdown-timing.mjs';

const [streams = 1000, upgrades = 100, runs = 5] = process.argv.slice(2).map(Number);

const contract = defineContract({
  events: { blob: typed() },
  commands: {},
  state: typed(),
});

async function run() {
  const hub = createHub(contract, { state: {}, history: 10 });
  const sse = createSseEndpoint(hub, { maxClients: streams + 10, highWaterMark: 8 * 1024 * 1024 });
  const server = createServer((req, res) => sse.node(req, res));
  const unregister = registerUpgrade(server, { path: '/ws', handle: (_req, socket) => socket.destroy() });
  server.on('upgrade', () => undefined); // a foreign listener that never answers
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();

  const clients = [];
  for (let i = 0; i < streams; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    if (i % 10 === 0)
      socket.pause(); // stopped reading
    else socket.on('data', () => undefined);
    clients.push(socket);
  }
  await until(() => sse.clientCount === streams, `${streams} streams`);
  for (let i = 0; i < 20; i++) await hub.publish('blob', 'x'.repeat(64 * 1024));

  const pending = unansweredUpgrades(port, upgrades);
  await accepted(server, streams + upgrades);

  const start = performance.now();
  const closed = new Promise((resolve) => server.close(resolve));
  await sse.close();
  unregister();
  await closed;
  const ms = performance.now() - start;

  for (const socket of [...clients, ...pending]) socket.destroy();
  await hub.close();
  return ms;
}

console.log(
  `graceful shutdown, ${streams} SSE streams (10% not reading) + ${upgrades} unanswered upgrades: ${await timeRuns(runs, run)}`,
);
