#!/usr/bin/env node
// examples/fleet under load (issue 23): N simulated boards (each flips its
// button about every 5 s and sends one temperature reading a second) on one
// instance, or split over two instances sharing a real redis-server; P
// "pages" each watching the directory, of which B are real Chromium pages
// (the fleet page: the directory plus the 50 boards of the page it shows,
// page b of the list for the b-th browser page) and P - B raw SSE clients in
// this process, each watching one board plus the directory.
//
// Reports, over the measured window: each server's CPU (% of one core) and
// RSS, redis-server's CPU and RSS, reading → raw client receipt latency and
// reading → Chromium DOM latency p50/p99 (the reading's `at` is the server's
// Date.now() when the reading was taken, before it is published; the DOM
// side is a MutationObserver on the row's `data-at`, Date.now() in its
// callback: ms resolution, one clock on one machine), and the load average
// (1 min, /proc/loadavg) at start and end — on a shared machine the run
// queue is part of every figure.
//
// Bounded: warm-up + window, a watchdog, then every process it started is
// stopped.
//
//   node bench/fleet.mjs [--boards 1000] [--pages 100] [--browsers 5]
//                        [--instances 1|2] [--seconds 30] [--warmup 15]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';

import { cpus } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CHROMIUM_ARGS } from '../test-support/chromium-args.mjs';
import { freePort } from '../test-support/ports.mjs';
import { startRedis } from './lib/redis.mjs';

const { values } = parseArgs({
  options: {
    boards: { type: 'string', default: '1000' },
    pages: { type: 'string', default: '100' },
    browsers: { type: 'string', default: '5' },
    instances: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '30' },
    warmup: { type: 'string', default: '15' },
  },
});
const boards = Number(values.boards);
const pages = Number(values.pages);
const browsers = Math.min(Number(values.browsers), pages);
const instances = Number(values.instances);
const seconds = Number(values.seconds);
const warmup = Number(values.warmup);
if (![1, 2].includes(instances)) throw new TypeError('--instances is 1 or 2');
for (const [name, n] of Object.entries({ boards, pages, browsers, seconds, warmup })) {
  if (!Number.isInteger(n) || n < 0) throw new TypeError(`--${name} must be a whole number`);
}
const root = fileURLToPath(new URL('..', import.meta.url));
const command = `node bench/fleet.mjs ${process.argv.slice(2).join(' ')}`.trim();
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const started = { at: new Date().toISOString(), loadAverage: loadAverage() };

const children = [];
let redis;
async function stopAll() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await redis?.stop();
}
const progress = (line) => console.error(`[fleet bench] ${line}`);
// Whatever ends this process (an error, the watchdog, Ctrl-C) ends what it started.
process.on('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  void redis?.stop();
});
process.once('SIGINT', () => process.exit(130));
const watchdog = setTimeout(
  () => {
    console.error('watchdog: stopping');
    void stopAll().finally(() => process.exit(1));
  },
  (warmup + seconds + 180) * 1000,
);

// The page, bundled from sources once (both instances serve the same file).
const { sourceAliases } = await import(pathToFileURL(`${root}scripts/workspace-sources.mjs`).href);
const { buildPage } = await import(pathToFileURL(`${root}examples/fleet/scripts/build.mjs`).href);
await buildPage({ alias: sourceAliases });

if (instances === 2) redis = await startRedis();

/** One fleet instance in its own process, from sources (the LED demo's source hooks). */
async function startInstance(index) {
  const port = await freePort();
  const share = Math.ceil(boards / instances);
  const first = 1 + index * share;
  const count = Math.max(0, Math.min(share, boards - index * share));
  const args = [
    '--import',
    `${root}examples/led-demo/scripts/from-source.mjs`,
    `${root}examples/fleet/src/cli.ts`,
    ...['--boards', String(count), '--first-board', String(first), '--port', String(port), '--host', '127.0.0.1'],
    ...(redis ? ['--redis', redis.url] : []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('simulated boards on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`fleet instance ${index} exited (${code}):\n${out}`)));
  });
  child.stdout.resume();
  return { index, port, pid: child.pid, first, count };
}
const servers = [];
for (let i = 0; i < instances; i++) servers.push(await startInstance(i));
progress(`${instances} instance(s) up${redis ? `, redis ${redis.url}` : ''}`);

const statOf = (pid) =>
  readFileSync(`/proc/${pid}/stat`, 'utf8')
    .slice(readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2)
    .split(' ');
const ticks = (pid) => {
  const f = statOf(pid);
  return Number(f[11]) + Number(f[12]);
};
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

// ------------------------------------------------------------ raw viewers
let measuring = false;
const rawLatencies = [];
let rawFrames = 0;
const requests = [];
for (let p = browsers; p < pages; p++) {
  const server = servers[p % instances];
  const board = `board-${1 + ((p * 9973) % boards)}`;
  const req = http.get({
    host: '127.0.0.1',
    port: server.port,
    path: `/api/events?channels=${board},~directory`,
    agent: false,
  });
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
        rawFrames++;
        if (!measuring || !frame.includes('event: reading')) continue;
        const at = /"at":(\d+)/.exec(frame);
        if (at) rawLatencies.push(Date.now() - Number(at[1]));
      }
    });
  });
  req.on('error', () => undefined);
}

// ------------------------------------------------------------ Chromium pages
let browser;
const browserPages = [];
if (browsers > 0) {
  const require = createRequire(`${root}examples/fleet/package.json`);
  const playwright = await import(pathToFileURL(require.resolve('playwright-core')).href);
  const { chromium } = playwright.default ?? playwright;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  for (let b = 0; b < browsers; b++) {
    const server = servers[b % instances];
    const page = await (await browser.newContext()).newPage();
    page.on('pageerror', (error) => console.error('[page error]', error.message));
    await page.goto(`http://127.0.0.1:${server.port}/?transport=sse`);
    await page.waitForFunction((n) => document.querySelectorAll('#boards li').length === Math.min(50, n), boards, {
      timeout: 120_000,
    });
    // Page b of the list (50 boards a page), so the browser pages watch different boards.
    const pageCount = Math.max(1, Math.ceil(boards / 50));
    for (let k = 0; k < b % pageCount; k++) await page.click('#next');
    await page.evaluate(() => {
      const w = window;
      w.__latencies = [];
      w.__measuring = false;
      new MutationObserver((records) => {
        if (!w.__measuring) return;
        const now = Date.now();
        for (const r of records) {
          // A new reading (not the first paint of a row, not the same value set again).
          const at = Number(r.target.dataset.at);
          if (at > 0 && r.oldValue && r.oldValue !== String(at)) w.__latencies.push(now - at);
        }
      }).observe(document.getElementById('boards'), {
        subtree: true,
        attributes: true,
        attributeFilter: ['data-at'],
        attributeOldValue: true,
      });
    });
    browserPages.push(page);
  }
}

progress(`${pages - browsers} raw viewers, ${browserPages.length} Chromium pages; warm-up ${warmup} s`);
await new Promise((r) => setTimeout(r, warmup * 1000));
progress(`measuring ${seconds} s`);
const ticks0 = servers.map((s) => ticks(s.pid));
const redisCpu0 = redis?.cpuUs();
const rssStart = servers.map((s) => rss(s.pid));
const rssPeak = [...rssStart];
measuring = true;
await Promise.all(browserPages.map((p) => p.evaluate(() => (window.__measuring = true))));
const sampler = setInterval(() => {
  servers.forEach((s, i) => {
    rssPeak[i] = Math.max(rssPeak[i], rss(s.pid));
  });
}, 500);
const start = Date.now();
const load0 = loadAverage();
await new Promise((r) => setTimeout(r, seconds * 1000));
measuring = false;
const domLatencies = [];
for (const page of browserPages) {
  const list = await page.evaluate(() => {
    window.__measuring = false;
    return window.__latencies;
  });
  domLatencies.push(...list);
}
const elapsed = (Date.now() - start) / 1000;
clearInterval(sampler);
const serverCpu = servers.map((s, i) => Math.round(((ticks(s.pid) - ticks0[i]) / 100 / elapsed) * 100));
const redisCpu = redis ? Math.round(((redis.cpuUs() - redisCpu0) / 1e6 / elapsed) * 100) : undefined;
const redisRss = redis ? Math.round(redis.rss() / 2 ** 20) : undefined;
const load1 = loadAverage();

function percentiles(list) {
  if (list.length === 0) return null;
  const sorted = [...list].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return { samples: sorted.length, p50: at(50), p99: at(99), max: sorted.at(-1) };
}

for (const req of requests) req.destroy();
await browser?.close();
for (const child of children) child.kill('SIGTERM');
await Promise.all(
  children.map(
    (child) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
      }),
  ),
);
await redis?.stop();
clearTimeout(watchdog);
console.log(
  JSON.stringify(
    {
      command,
      started,
      boards,
      instances: servers.map((s, i) => ({
        boards: `board-${s.first} … board-${s.first + s.count - 1}`,
        cpuPercentOfOneCore: serverCpu[i],
        rssMiB: { start: Math.round(rssStart[i] / 2 ** 20), peak: Math.round(rssPeak[i] / 2 ** 20) },
      })),
      redis: redis ? { cpuPercentOfOneCore: redisCpu, rssMiB: redisRss } : undefined,
      pages: { total: pages, chromium: browsers, raw: pages - browsers },
      windowSeconds: Math.round(elapsed),
      cpus: cpus().length,
      loadAverage: { windowStart: load0, windowEnd: load1 },
      // Each watched board takes one reading a second: what arrived inside the window against that
      // (below 1 when readings wait past the window — on a loaded machine, the run queue).
      readingsDelivered: {
        raw: Number((rawLatencies.length / ((pages - browsers) * elapsed || 1)).toFixed(2)),
        chromium: Number((domLatencies.length / (browsers * Math.min(50, boards) * elapsed || 1)).toFixed(2)),
      },
      readingToRawClientMs: percentiles(rawLatencies),
      readingToChromiumDomMs: percentiles(domLatencies),
      rawFramesReceived: rawFrames,
    },
    null,
    2,
  ),
);
process.exit(0);
