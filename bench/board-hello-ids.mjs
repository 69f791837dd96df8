#!/usr/bin/env node
// What a server keeps after many board ids said hello on the board link
// (issue 27: "memory after 3,000 board hello ids is bounded but not given
// back"). The server runs in a child process with --expose-gc, from the
// workspace's sources (the LED demo's source hooks), so its heap and RSS are
// its own; this process plays the agents over real WebSockets on 127.0.0.1.
//
// Scenarios (--scenario):
//   fleet    examples/fleet with a board-link file of N ids (one token each);
//            N agents say hello (pins 0 and 5, one sensor: the fleet binds a
//            button, a LED and readings), go online, then disconnect.
//   refused  the same fleet, one agent token (bound to "esp32-0") claiming N
//            other ids: each hello is refused `forbidden`.
//   link     attachBoardLink alone with one shared token, N ids, no channels.
//
// For each: heap (used + external) and RSS before, after the N hellos (every
// socket closed), and after the removal time (`retentionMs` + 1 s), each
// after a forced GC; with the link's board count, the hub's channel count and
// directory size.
//
//   node bench/board-hello-ids.mjs [--scenario fleet|refused|link] [--ids 3000]
//                                  [--retention-ms 5000] [--concurrency 20]
//                                  [--fleet examples/fleet/src/server.ts]
//
// --fleet measures another version of the fleet's server.ts (e.g. one taken
// with `git show <commit>:examples/fleet/src/server.ts` into a folder with
// its contract.ts and users.ts), against the workspace's packages.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const PROTOCOL = 'boardcast-board.v1';

if (process.env.BOARD_HELLO_SERVER) await server(JSON.parse(process.env.BOARD_HELLO_SERVER));
else await main();

async function main() {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', default: 'fleet' },
      ids: { type: 'string', default: '3000' },
      'retention-ms': { type: 'string', default: '5000' },
      concurrency: { type: 'string', default: '20' },
      fleet: { type: 'string', default: `${root}examples/fleet/src/server.ts` },
    },
  });
  const scenario = values.scenario;
  const ids = Number(values.ids);
  const retentionMs = Number(values['retention-ms']);
  const concurrency = Number(values.concurrency);
  if (!['fleet', 'refused', 'link'].includes(scenario)) throw new TypeError('--scenario is fleet, refused or link');
  for (const [name, n] of Object.entries({ ids, retentionMs, concurrency })) {
    if (!Number.isInteger(n) || n < 1) throw new TypeError(`--${name} must be a whole number >= 1`);
  }
  const { default: WebSocket } = await import(pathToFileURL(`${root}bench/node_modules/ws/index.js`).href);
  const child = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--expose-gc', '--import', `${root}examples/led-demo/scripts/from-source.mjs`],
    env: { ...process.env, BOARD_HELLO_SERVER: JSON.stringify({ scenario, ids, retentionMs, fleet: values.fleet }) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const watchdog = setTimeout(() => {
    console.error('watchdog: stopping');
    child.kill('SIGKILL');
    process.exit(1);
  }, 600_000);
  const waiting = [];
  let port;
  const ready = new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening`)));
    child.on('message', (msg) => {
      if (msg.type === 'port') {
        port = msg.port;
        resolve();
      } else waiting.shift()?.(msg.sample);
    });
  });
  const ask = (type) =>
    new Promise((resolve) => {
      waiting.push(resolve);
      child.send({ type });
    });
  await ready.catch((error) => {
    console.error(error.message);
    process.exit(1);
  });

  const tokenOf = (i) => (scenario === 'link' ? 'shared-token' : scenario === 'refused' ? 'token-0' : `token-${i}`);
  let welcomed = 0;
  let refused = 0;
  const agent = (i) =>
    new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/board`, PROTOCOL, {
        headers: { authorization: `Bearer ${tokenOf(i)}` },
      });
      ws.on('error', () => undefined);
      ws.on('close', () => resolve());
      ws.on('open', () =>
        ws.send(
          JSON.stringify({
            type: 'hello',
            id: `esp32-${i + 1}`,
            firmware: 'bench-1.0',
            pins: [
              { pin: 0, modes: ['input', 'input_pullup'] },
              { pin: 5, modes: ['output'] },
            ],
            sensors: ['temperature'],
          }),
        ),
      );
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data));
        if (frame.type === 'welcome') welcomed++;
        if (frame.type === 'error' && frame.error?.code !== 'too_many_requests') refused++;
        if (frame.type === 'error') return;
        if (frame.id === undefined || frame.type === 'result') return;
        // A simulated agent: every request answered at once.
        const value =
          frame.type === 'snapshot'
            ? { pins: { 0: 1, 5: 0 }, analog: {}, sensors: { temperature: 21 } }
            : frame.type === 'sensor'
              ? 21
              : frame.type === 'mode'
                ? null
                : 0;
        ws.send(JSON.stringify({ type: 'result', id: frame.id, ok: true, value }));
        // Online once the snapshot is answered: leave, as a churning or hostile peer does.
        if (frame.type === 'snapshot') setTimeout(() => ws.close(), 50);
      });
      // Refused (or never asked for a snapshot): leave after a while anyway.
      setTimeout(() => ws.close(), 5000);
    });

  const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  const load = [loadAverage()];
  const before = await ask('gc');
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ids) await agent(next++);
    }),
  );
  const helloSeconds = (Date.now() - started) / 1000;
  // Every socket closed on the server too (its close handshake ends after ours).
  while ((await ask('sample')).connections > 0) await new Promise((r) => setTimeout(r, 100));
  const afterHellos = await ask('gc');
  await new Promise((r) => setTimeout(r, retentionMs + 1000));
  const afterRemoval = await ask('gc');
  load.push(loadAverage());
  child.send({ type: 'exit' });
  clearTimeout(watchdog);

  const mib = (v) => v.toFixed(1).padStart(7);
  const n = (v) => String(v).padStart(6);
  const row = (name, s) =>
    `${name.padEnd(30)} ${mib(s.heapMb)} ${mib(s.rssMb)} ${n(s.boards)} ${n(s.channels)} ${n(s.directory)}`;
  console.log(
    [
      `node bench/board-hello-ids.mjs ${process.argv.slice(2).join(' ')}`.trim(),
      `${welcomed} welcomed, ${refused} refused, hellos took ${helloSeconds.toFixed(1)} s, load average ${load.join(' -> ')}`,
      `${'after GC'.padEnd(30)} heap MiB  RSS MiB  boards channels directory`,
      row('before', before),
      row(`after ${ids} hellos, all closed`, afterHellos),
      row(`after retentionMs + 1 s`, afterRemoval),
    ].join('\n'),
  );
}

/** The child: the server under test, answering `sample` / `gc` over IPC. */
async function server({ scenario, ids, retentionMs, fleet: fleetPath }) {
  let link;
  let hub;
  let close;
  if (scenario === 'link') {
    const http = await import('node:http');
    const { attachBoardLink } = await import('@boardcast/board-adapter-gpio');
    const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
    link = attachBoardLink(httpServer, { token: 'shared-token', retentionMs });
    // An app listening to its boards, as every app does (what it keeps per board is the app's).
    link.on('connect', (board) => board.on('error', () => undefined));
    await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    process.send({ type: 'port', port: httpServer.address().port });
    close = async () => {
      await link.close();
      httpServer.close();
    };
  } else {
    const { startFleet } = await import(pathToFileURL(fleetPath).href);
    const boardLink = Object.fromEntries(Array.from({ length: ids }, (_, i) => [`esp32-${i + 1}`, `token-${i}`]));
    if (scenario === 'refused') {
      for (const key of Object.keys(boardLink)) delete boardLink[key];
      boardLink['esp32-0'] = 'token-0';
    }
    const fleet = await startFleet({
      port: 0,
      host: '127.0.0.1',
      boards: 0,
      inputEveryMs: 0,
      readingEveryMs: 0,
      log: false,
      boardLink,
      boardLinkOptions: { retentionMs },
    });
    link = fleet.link;
    hub = fleet.hub;
    process.send({ type: 'port', port: fleet.port });
    close = () => fleet.close();
  }
  const sample = () => {
    const m = process.memoryUsage();
    return {
      heapMb: (m.heapUsed + m.external) / 2 ** 20,
      rssMb: m.rss / 2 ** 20,
      connections: link.connectionCount,
      boards: link.boards.length,
      channels: hub ? hub.channels.length : 0,
      directory: hub ? hub.directory.size : 0,
    };
  };
  process.on('message', async (msg) => {
    if (msg.type === 'exit') {
      await close();
      process.exit(0);
    }
    if (msg.type === 'gc') {
      // Let closed sockets' last callbacks run, then collect twice (weak maps' entries need a second pass).
      await new Promise((r) => setTimeout(r, 200));
      globalThis.gc();
      await new Promise((r) => setImmediate(r));
      globalThis.gc();
    }
    process.send({ type: 'sample', sample: sample() });
  });
}
