// How one user flooding `subscribe` frames delays another user's live events
// (the finding behind `channelsPerSecond`). Measures the built package:
//
//   pnpm --filter @boardcast/core --filter @boardcast/ws-server build
//   node packages/ws-server/bench/subscribe-flood.mjs [--seconds 15] [--rate 200|0]
//
// The server (this process) publishes a tick on board-5 every 100 ms; alice
// (a child process) watches board-5 and records the gaps between ticks; bob
// (another child) sends 500 subscribe frames of 1,000 board ids (he sees only
// board-1) back to back, and reconnects to do it again whenever he is closed.
// `--rate 0` turns the budget off (the behaviour before it). Prints one JSON line.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { accessTable, createHub, defineContract, typed } from '@boardcast/core';
import { WS_PROTOCOL } from '@boardcast/core/wire';
import { WebSocket } from 'ws';
import { createWsEndpoint } from '../dist/index.js';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const role = process.argv[2];

if (role === 'alice') {
  const ws = new WebSocket(`ws://127.0.0.1:${process.argv[3]}/ws?user=alice&channels=board-5`, WS_PROTOCOL);
  const gaps = [];
  let last;
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data));
    if (frame.type !== 'event') return;
    const now = performance.now();
    if (last !== undefined) gaps.push(now - last);
    last = now;
  });
  process.on('message', () => {
    ws.close();
    process.send(gaps);
  });
} else if (role === 'bob') {
  const ids = JSON.stringify(Array.from({ length: 1000 }, (_, i) => `board-${i}`));
  const stats = { sentBytes: 0, receivedBytes: 0, receivedFrames: 0, connections: 0 };
  let stop = false;
  const flood = () => {
    if (stop) return;
    stats.connections++;
    const ws = new WebSocket(`ws://127.0.0.1:${process.argv[3]}/ws?user=bob&channels=`, WS_PROTOCOL);
    ws.on('error', () => undefined);
    ws.on('open', () => {
      for (let i = 0; i < 500; i++) {
        const frame = `{"type":"subscribe","id":${i},"channels":${ids}}`;
        stats.sentBytes += frame.length;
        ws.send(frame);
      }
    });
    let answers = 0;
    ws.on('message', (data) => {
      stats.receivedBytes += data.length;
      stats.receivedFrames++;
      if (String(data).startsWith('{"type":"result"') && ++answers === 500) ws.close();
    });
    ws.on('close', () => setImmediate(flood));
  };
  flood();
  process.on('message', () => {
    stop = true;
    process.send(stats);
  });
} else {
  const seconds = arg('seconds', 15);
  const rate = arg('rate', 200);
  const contract = defineContract({ events: { tick: typed() }, commands: {}, state: typed() });
  const access = accessTable({ alice: { see: ['*'] }, bob: { see: ['board-1'] } });
  const hub = createHub(contract, { state: {}, access });
  for (let i = 0; i < 10; i++) hub.channel(`board-${i}`);
  const server = createServer();
  const endpoint = createWsEndpoint(hub, {
    server,
    channelsPerSecond: rate,
    authorize: (request) => request.url.searchParams.get('user') ?? false,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = server.address().port;
  const file = new URL(import.meta.url).pathname;
  const alice = fork(file, ['alice', String(port)]);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const bob = fork(file, ['bob', String(port)]);
  let n = 0;
  const ticker = setInterval(() => void hub.channel('board-5').publish('tick', ++n), 100);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(ticker);
  const ask = async (child) => {
    child.send('stop');
    const [answer] = await once(child, 'message');
    child.kill();
    return answer;
  };
  const bobStats = await ask(bob);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const gaps = (await ask(alice)).sort((a, b) => a - b);
  const q = (p) => Math.round(gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))]);
  console.log(
    JSON.stringify({
      channelsPerSecond: rate,
      seconds,
      ticksPublished: n,
      ticksReceived: gaps.length + 1,
      aliceGapMs: { p50: q(0.5), p99: q(0.99), max: Math.round(gaps.at(-1)) },
      bob: {
        ...bobStats,
        receivedMB: +(bobStats.receivedBytes / 1e6).toFixed(1),
        sentMB: +(bobStats.sentBytes / 1e6).toFixed(1),
      },
    }),
  );
  await endpoint.close();
  await hub.close();
  server.close();
}
