#!/usr/bin/env node
// examples/fleet under load: N simulated boards (each flips an input about
// every 5 s and sends one reading a second) and P viewers, each watching one
// board plus the directory over SSE, as raw clients in this process (the
// server runs in a child process). Reports server CPU (% of one core),
// server RSS, and reading publish → client receipt latency p50/p99 (the
// reading's `at` is the server's Date.now() when it was taken: ms
// resolution, one clock on one machine). Bounded: warm-up + window, then
// everything stops.
//
//   node bench/fleet.mjs [--boards 1000] [--pages 100] [--seconds 30]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    boards: { type: 'string', default: '1000' },
    pages: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '30' },
    port: { type: 'string', default: '3912' },
  },
});
const boards = Number(values.boards);
const pages = Number(values.pages);
const seconds = Number(values.seconds);
const port = Number(values.port);
const root = fileURLToPath(new URL('..', import.meta.url));

const server = spawn(
  process.execPath,
  [
    '--import',
    `${root}examples/led-demo/scripts/from-source.mjs`,
    `${root}examples/fleet/src/cli.ts`,
    '--boards',
    String(boards),
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const watchdog = setTimeout(
  () => {
    console.error('watchdog: stopping');
    server.kill('SIGKILL');
    process.exit(1);
  },
  (seconds + 120) * 1000,
);
await new Promise((resolve, reject) => {
  server.stdout.on('data', (d) => {
    if (String(d).includes('simulated boards on')) resolve();
  });
  server.once('exit', () => reject(new Error('fleet exited')));
});

const ticks = () => {
  const f = readFileSync(`/proc/${server.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
};
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))[1]) * 1024;

let measuring = false;
const latencies = [];
let events = 0;
const requests = [];
for (let p = 0; p < pages; p++) {
  const board = `board-${1 + ((p * 9973) % boards)}`;
  const req = http.get({ host: '127.0.0.1', port, path: `/api/events?channels=${board},~directory`, agent: false });
  requests.push(req);
  req.on('response', (res) => {
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      buffer += chunk;
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        events++;
        if (!measuring || !frame.includes('event: reading')) continue;
        const at = /"at":(\d+)/.exec(frame);
        if (at) latencies.push(Date.now() - Number(at[1]));
      }
    });
  });
  req.on('error', () => undefined);
}
await new Promise((r) => setTimeout(r, 5000)); // warm-up
const t0 = ticks();
const rssStart = rss();
measuring = true;
let rssPeak = rssStart;
const sampler = setInterval(() => {
  rssPeak = Math.max(rssPeak, rss());
}, 500);
const start = Date.now();
const load0 = loadavg()[0];
await new Promise((r) => setTimeout(r, seconds * 1000));
measuring = false;
clearInterval(sampler);
const cpu = ((ticks() - t0) / 100 / ((Date.now() - start) / 1000)) * 100;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
for (const req of requests) req.destroy();
server.kill('SIGTERM');
clearTimeout(watchdog);
console.log(
  JSON.stringify(
    {
      boards,
      pages,
      seconds,
      cpus: cpus().length,
      loadAverage1m: { start: load0, end: loadavg()[0] },
      serverCpuPercentOfOneCore: Math.round(cpu),
      serverRssMiB: { start: Math.round(rssStart / 2 ** 20), peak: Math.round(rssPeak / 2 ** 20) },
      readingsReceived: latencies.length,
      framesReceived: events,
      latencyMs: latencies.length ? { p50: pct(50), p99: pct(99), max: latencies.at(-1) } : null,
    },
    null,
    2,
  ),
);
process.exit(0);
