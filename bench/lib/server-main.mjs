// Server process: loads one server adapter (ours, a peer or a floor), then
// publishes ~100-byte events when the orchestrator says so — at a fixed rate,
// or as fast as the clients keep up (a window of unacknowledged events) —
// and reports its own CPU and memory. Nothing here runs per client.
import dgram from 'node:dgram';
import { nowUs, sleep } from './clock.mjs';
import { serve } from './rpc.mjs';

const kind = process.argv[2];
let adapter;
let ackMin = 0;
let wake = null;
// Generators report the lowest sequence number all their clients have, over
// UDP on loopback straight to this process, every 10 ms: no hop through the
// orchestrator, so pacing does not depend on a third process being scheduled.
const acks = dgram.createSocket('udp4');
let genMins = [];
acks.on('message', (buf) => {
  if (buf.length < 9) return;
  genMins[buf.readUInt8(0)] = buf.readDoubleLE(1);
  let min = Number.POSITIVE_INFINITY;
  for (const m of genMins) if (m < min) min = m;
  if (min > ackMin && min !== Number.POSITIVE_INFINITY) ackMin = min;
  wake?.();
});

function payloadFactory(bytes) {
  // {"s":123456,"t":123456789012,"p":"xxx"} — pad so the JSON is ~`bytes` long.
  const pad = 'x'.repeat(Math.max(0, bytes - 40));
  return (s) => ({ s, t: nowUs(), p: pad });
}

function memory() {
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
  };
}

/**
 * What a publishing run measures: RSS every `sampleMs` (peak and series), and
 * the CPU from the first event published in [fromUs, toUs) to the first
 * published after it.
 */
function meter({ fromUs, toUs, sampleMs }) {
  let cpuFrom;
  let cpuTo;
  let peakRss = 0;
  const series = [];
  const sampler = setInterval(() => {
    const rss = process.memoryUsage.rss();
    if (rss > peakRss) peakRss = rss;
    series.push([Math.round((nowUs() - fromUs) / 1000), Math.round(rss / 1024)]);
  }, sampleMs);
  return {
    /** Whether an event published at `t` (µs) counts; starts and stops the CPU clock. */
    inWindow(t) {
      if (t >= fromUs && t < toUs) {
        if (!cpuFrom) cpuFrom = { cpu: cpuNow(), at: t };
        return true;
      }
      if (t >= toUs && !cpuTo) cpuTo = { cpu: cpuNow(), at: t };
      return false;
    },
    stop() {
      if (!cpuTo) cpuTo = { cpu: cpuNow(), at: nowUs() };
      clearInterval(sampler);
      const cpuPct = cpuFrom ? ((cpuTo.cpu - cpuFrom.cpu) / (cpuTo.at - cpuFrom.at)) * 100 : null;
      return { cpuPct, rss: process.memoryUsage.rss(), peakRss, series };
    },
  };
}

/**
 * Publish with `one()` until `untilUs`:
 * - fixed: `perSec` events/s, what is due at once, then a pause of `pauseMs`;
 * - window (closed loop): while `ahead()` says the slowest client is close
 *   enough, at most `slice` events per macrotask so acks are read between
 *   them and the pipeline stays full instead of alternating burst and idle;
 *   otherwise wait for an ack (or 50 ms).
 */
async function pace({ mode, perSec, pauseMs, untilUs, slice, ahead, one }) {
  if (mode === 'fixed') {
    const start = nowUs();
    let sent = 0;
    while (nowUs() < untilUs) {
      const due = Math.floor(((nowUs() - start) / 1e6) * perSec);
      while (sent < due) {
        one();
        sent++;
      }
      await sleep(pauseMs);
    }
    return;
  }
  while (nowUs() < untilUs) {
    let n = 0;
    while (n < slice && ahead()) {
      one();
      n++;
    }
    if (n === 0) {
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
      wake = null;
    } else {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

let seq = 0;

/**
 * One stream of events: `rate` events/s (fixed), or (window) never more than
 * `window` events ahead of the slowest client, one event per macrotask, so
 * the server runs flat out without buffering without bound.
 */
async function publish({
  mode,
  rate,
  window,
  generators = 1,
  fromUs,
  toUs,
  untilUs,
  payloadBytes = 100,
  sampleMs = 250,
}) {
  const make = payloadFactory(payloadBytes);
  let firstInWindow = 0;
  let lastInWindow = 0;
  const m = meter({ fromUs, toUs, sampleMs });
  const one = () => {
    const s = ++seq;
    const data = make(s);
    if (m.inWindow(data.t)) {
      if (!firstInWindow) firstInWindow = s;
      lastInWindow = s;
    }
    adapter.publish(data);
  };
  if (mode !== 'fixed') {
    ackMin = seq;
    genMins = new Array(generators).fill(seq);
  }
  await pace({
    mode,
    perSec: rate,
    pauseMs: Math.max(1, Math.min(20, 1000 / rate / 2)),
    untilUs,
    slice: 1,
    ahead: () => seq - ackMin < window,
    one,
  });
  return {
    published: seq,
    firstInWindow,
    lastInWindow,
    eventsInWindow: firstInWindow ? lastInWindow - firstInWindow + 1 : 0,
    ...m.stop(),
  };
}

// Channel events published so far (all phases of one server): event n goes
// to channel `n mod channels` with sequence number `floor(n / channels) + 1`,
// so every channel's sequence is 1, 2, 3, … and a client on one channel can
// check gaps and duplicates. A "round" publishes once on every channel.
let chanPos = 0;

/**
 * The `channels` scenario: like `publish`, but each event goes to one channel
 * (`adapter.publishTo(k, data)`), round-robin over `channels`.
 * - fixed: `rate` events/s on every channel (`rate × channels` publishes/s,
 *   evenly spaced);
 * - window (closed loop): the per-channel rate is raised until the server
 *   saturates — events are published while the round being published is
 *   fewer than `window` rounds ahead of the slowest client (generators report
 *   the lowest sequence number their clients have, which is the round they
 *   completed), at most `slice` publishes per macrotask so acks are read.
 * `expectedDeliveries` counts, for every event published inside the window,
 * the subscribers of its channel (clients i with i mod channels = k).
 */
async function publishChannels({
  mode,
  rate,
  window,
  generators = 1,
  fromUs,
  toUs,
  untilUs,
  payloadBytes = 100,
  channels,
  clients,
  slice = 256,
  sampleMs = 250,
}) {
  // {"s":3,"t":123456789012,"c":42,"p":"xxx"}: the channel number lets each client check it got only its own.
  const pad = 'x'.repeat(Math.max(0, payloadBytes - 40 - 5 - String(channels).length));
  const make = (s, c) => ({ s, t: nowUs(), c, p: pad });
  const subs = (k) => Math.floor(clients / channels) + (k < clients % channels ? 1 : 0);
  let eventsInWindow = 0;
  let expectedDeliveries = 0;
  let lastInWindow = 0;
  const m = meter({ fromUs, toUs, sampleMs });
  const one = () => {
    const k = chanPos % channels;
    const s = Math.floor(chanPos / channels) + 1;
    chanPos++;
    const data = make(s, k);
    if (m.inWindow(data.t)) {
      eventsInWindow++;
      expectedDeliveries += subs(k);
      lastInWindow = s;
    }
    adapter.publishTo(k, data);
  };
  const round = () => Math.floor(chanPos / channels) + 1;
  if (mode !== 'fixed') {
    ackMin = round() - 1;
    genMins = new Array(generators).fill(ackMin);
  }
  // Fixed: spread evenly, publish what is due, then yield for a millisecond or so.
  await pace({
    mode,
    perSec: rate * channels,
    pauseMs: 1,
    untilUs,
    slice,
    ahead: () => round() - ackMin <= window,
    one,
  });
  return { published: chanPos, lastInWindow, eventsInWindow, expectedDeliveries, ...m.stop() };
}

/**
 * CPU and RSS of this process over [fromUs, toUs) without publishing: the
 * figures of an instance that only relays what another one publishes.
 */
async function watch({ fromUs, toUs, untilUs, sampleMs = 250 }) {
  let peakRss = 0;
  const sampler = setInterval(() => {
    const rss = process.memoryUsage.rss();
    if (rss > peakRss) peakRss = rss;
  }, sampleMs);
  await sleep(Math.max(0, (fromUs - nowUs()) / 1000));
  const from = { cpu: cpuNow(), at: nowUs() };
  await sleep(Math.max(0, (toUs - nowUs()) / 1000));
  const to = { cpu: cpuNow(), at: nowUs() };
  await sleep(Math.max(0, (untilUs - nowUs()) / 1000));
  clearInterval(sampler);
  const rss = process.memoryUsage.rss();
  return { cpuPct: ((to.cpu - from.cpu) / (to.at - from.at)) * 100, rss, peakRss: Math.max(peakRss, rss) };
}

function cpuNow() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

serve({
  async start(options) {
    const mod = await import(`../servers/${kind}.mjs`);
    adapter = await mod.start(options);
    await new Promise((resolve) => acks.bind(0, '127.0.0.1', resolve));
    return { port: adapter.port, ackPort: acks.address().port, info: adapter.info ?? {} };
  },
  count: () => adapter.count(),
  memory({ gc }) {
    if (gc && global.gc) {
      for (let i = 0; i < 3; i++) global.gc();
    }
    return memory();
  },
  publish: (args) => (args.channels ? publishChannels(args) : publish(args)),
  watch: (args) => watch(args),
  async stop() {
    await adapter?.close();
    return { ok: true };
  },
});
