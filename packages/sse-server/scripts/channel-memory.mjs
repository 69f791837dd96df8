/**
 * Server memory per idle SSE stream: a stream naming no channels (0.1),
 * one naming 1 channel, and one naming 10 (issue 22). Runs against the
 * built packages:
 *
 *   pnpm --filter @boardcast/core --filter @boardcast/sse-server build
 *   node --expose-gc packages/sse-server/scripts/channel-memory.mjs [streams=2000] [runs=3]
 *
 * The clients live in a child process (this script, forked), so only the
 * server's memory is measured: heap used and RSS after a full GC, with the
 * streams open and idle, minus the same with none; the median of `runs`.
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { createHub, defineContract, typed } from '@boardcast/core';
import { createSseEndpoint } from '@boardcast/sse-server';

if (process.argv[2] === 'client') {
  const [, , , port, count, path] = process.argv;
  const sockets = [];
  for (let i = 0; i < Number(count); i++) {
    const socket = connect(Number(port), '127.0.0.1');
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
    sockets.push(socket);
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  process.on('message', () => {
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  });
} else {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const [streams = 2000, runs = 3] = process.argv.slice(2).map(Number);
  const contract = defineContract({ events: { tick: typed() }, commands: {}, state: typed() });
  const hub = createHub(contract, { state: { ticks: 0 }, maxChannelsPerConnection: 20 });
  const ids = Array.from({ length: 10 }, (_, i) => `board-${i}`);
  for (const id of ids) await hub.channel(id).setState({ ticks: 1, name: id });
  const sse = createSseEndpoint(hub, { maxClients: streams + 10, keepAliveMs: 0 });
  const server = createServer(sse.node);
  server.maxConnections = streams + 100;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();

  const until = async (check, what) => {
    const deadline = Date.now() + 120_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const { heapUsed, rss } = process.memoryUsage();
    return { heapUsed, rss };
  };
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

  const modes = [
    ['no channels (0.1)', '/'],
    ['1 channel', `/?channels=${ids[0]}`],
    ['10 channels', `/?channels=${ids.join(',')}`],
  ];
  const rows = [];
  for (const [name, path] of modes) {
    const heap = [];
    const rss = [];
    for (let run = 0; run < runs; run++) {
      const before = await settle();
      const child = fork(new URL(import.meta.url).pathname, ['client', String(port), String(streams), path]);
      await until(() => sse.clientCount === streams, `${streams} streams`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const open = await settle();
      heap.push((open.heapUsed - before.heapUsed) / streams);
      rss.push((open.rss - before.rss) / streams);
      child.send('stop');
      await until(() => sse.clientCount === 0, 'streams closed');
    }
    rows.push({ name, heap: median(heap), rss: median(rss) });
  }
  console.log(`server memory per idle SSE stream, ${streams} streams, median of ${runs} (node ${process.version})`);
  for (const row of rows) {
    console.log(
      `${row.name.padEnd(20)} heap ${(row.heap / 1024).toFixed(1)} KiB   rss ${(row.rss / 1024).toFixed(1)} KiB`,
    );
  }
  await sse.close();
  await hub.close();
  server.close();
}
