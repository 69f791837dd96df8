#!/usr/bin/env node
// The hub's side of channels, in one process, on the built @boardcast/core
// (no sockets: what the hub itself costs, which the network scenarios of
// run.mjs then add their transports to):
//
//   1. routing overhead per published event (µs): a hub with 10,000 channels
//      and one subscriber on each, publishing round-robin, vs the 0.1 shape
//      (one channel, one subscriber) — the work an event costs is that of its
//      own channel's subscribers, not a scan of every client;
//   2. memory of 10,000 channels' history (100 events of ~100 B each);
//   3. memory per idle connection holding 1 and 10 channels;
//   4. subscribe → first snapshot latency p50/p99 with 10,000 channels;
//   5. creating a channel while 1,000 connections each hold a pattern
//      (`p<i>-*`): the hub looks up one prefix per distinct length, so the
//      cost does not grow with the number of patterns held.
//
// Run: `pnpm --filter @boardcast/core build && node --expose-gc bench/channels-core.mjs [--quick]`.
// Bounded: fixed iteration counts, no timers; prints a table and exits.
import { performance } from 'node:perf_hooks';
import { createHub, defineContract, typed } from '@boardcast/core';

const quick = process.argv.includes('--quick');
const CHANNELS = quick ? 1000 : 10_000;
const gc = globalThis.gc ?? (() => {});
const contract = defineContract({
  events: { reading: typed() },
  commands: {},
  state: typed(),
  reducers: { reading: (state, r) => ({ ...state, last: r.value, n: state.n + 1 }) },
});
const initial = { last: 0, n: 0 };
const payload = (i) => ({ sensor: 'temperature', value: 20 + (i % 10) / 10, at: 1_700_000_000_000 + i });
const noSink = {
  snapshot() {},
  event(frame) {
    void frame.sse;
  },
  reset() {},
};

/**
 * Heap in use after a full collection, taken after one turn of the event loop: `void publish()`
 * in a loop leaves one pending job per call, and measured synchronously those jobs (hundreds of MiB
 * for a million events) would be counted as history. Keep the hub in use after the call (a
 * binding not read after an await may be collected with everything it holds). Each scenario
 * below runs in its own function, so the one before it is garbage by the time this one measures
 * its baseline (block-scoped bindings of the module body can outlive their block).
 */
async function heap() {
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function perEvent(hub, channelOf, events) {
  for (let i = 0; i < Math.min(events, 2000); i++) void hub.channel(channelOf(i)).publish('reading', payload(i));
  const start = performance.now();
  for (let i = 0; i < events; i++) void hub.channel(channelOf(i)).publish('reading', payload(i));
  return ((performance.now() - start) * 1000) / events;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const rows = [];
const fmt = (n, d = 2) => n.toFixed(d);

// 1. routing overhead
await (async () => {
  const events = quick ? 20_000 : 200_000;
  const single = createHub(contract, { state: initial, history: 100 });
  single.connect({}, noSink);
  const one = perEvent(single, () => 'default', events);
  const many = createHub(contract, { state: initial, history: 100, maxChannels: CHANNELS + 1 });
  for (let c = 0; c < CHANNELS; c++) many.connect({ channels: [`c${c}`] }, noSink);
  const spread = perEvent(many, (i) => `c${i % CHANNELS}`, events);
  rows.push(['publish → one subscriber, 0.1 shape (1 channel)', `${fmt(one)} µs/event`]);
  rows.push([`publish → one subscriber, ${CHANNELS} channels × 1 subscriber`, `${fmt(spread)} µs/event`]);
  rows.push(['routing overhead per event', `${fmt(spread - one)} µs (${fmt(spread / one)}×)`]);
  await single.close();
  await many.close();
})();

// 2. memory of 10,000 channels' history
await (async () => {
  const before = await heap();
  const hub = createHub(contract, { state: initial, history: 100, maxChannels: CHANNELS + 1 });
  for (let i = 0; i < CHANNELS * 100; i++) void hub.channel(`c${i % CHANNELS}`).publish('reading', payload(i));
  const after = await heap();
  const json = JSON.stringify(payload(1)).length;
  // What the history holds once the per-channel count and the hub-wide byte budget (`historyBytes`,
  // default 32 MiB, counting JSON length + 128 per event) have applied: not every event published.
  let retained = 0;
  let counted = 0;
  let evictions = 0;
  for (let c = 0; c < CHANNELS; c++) {
    const stats = hub.bus.channelStats?.(`c${c}`);
    retained += stats?.events ?? 0;
    counted += stats?.bytes ?? 0;
    evictions += stats?.evictions ?? 0;
  }
  rows.push([
    `${CHANNELS} channels × 100 events (~${json} B payload) of history + state`,
    `${fmt((after - before) / 1024 / 1024, 1)} MiB heap (${fmt((after - before) / (CHANNELS * 100), 0)} B/event published)`,
  ]);
  rows.push([
    '  of which kept in history (budget: default historyBytes)',
    `${retained} events, ${fmt(counted / 1024 / 1024, 1)} MiB counted, ${evictions} evicted; ${fmt((after - before) / Math.max(1, retained), 0)} B heap/kept event`,
  ]);
  await hub.close();
})();

// 2b. one quiet channel's old event at the head of the hub-wide eviction order, one noisy channel
// held to its 100 by the per-channel count: the heap should be that of 101 events, whatever the
// noisy channel published (the count bound evicts; the byte budget is never reached).
await (async () => {
  const noisyEvents = quick ? 100_000 : 1_000_000;
  const before = await heap();
  const hub = createHub(contract, { state: initial, history: 100 });
  void hub.channel('quiet').publish('reading', payload(0));
  const noisy = hub.channel('noisy');
  for (let i = 0; i < noisyEvents; i++) void noisy.publish('reading', payload(i));
  const after = await heap();
  const stats = hub.bus.channelStats?.('noisy');
  rows.push([
    `1 quiet channel (1 event) + 1 noisy channel (${noisyEvents} events), history 100`,
    `${fmt((after - before) / 1024 / 1024, 1)} MiB heap; noisy keeps ${stats?.events} events, ${stats?.evictions} evicted`,
  ]);
  await hub.close();
})();

// 3. memory per idle connection with 1 and 10 channels
for (const per of [1, 10]) {
  const hub = createHub(contract, { state: initial, maxChannels: CHANNELS + 1 });
  for (let c = 0; c < CHANNELS; c++) void hub.channel(`c${c}`).publish('reading', payload(c));
  const count = quick ? 2000 : 10_000;
  const held = [];
  const before = await heap();
  for (let k = 0; k < count; k++) {
    const channels = Array.from({ length: per }, (_, j) => `c${(k * per + j) % CHANNELS}`);
    held.push(hub.connect({ channels }, noSink));
  }
  const after = await heap();
  rows.push([
    `idle connection holding ${per} channel${per > 1 ? 's' : ''} (hub side)`,
    `${fmt((after - before) / count, 0)} B`,
  ]);
  for (const c of held) c.close();
  await hub.close();
}

// 4. subscribe → first snapshot with 10,000 channels
await (async () => {
  const hub = createHub(contract, { state: initial, maxChannels: CHANNELS + 1 });
  for (let c = 0; c < CHANNELS; c++) void hub.channel(`c${c}`).publish('reading', payload(c));
  const samples = [];
  for (let k = 0; k < (quick ? 2000 : 20_000); k++) {
    let t = 0;
    const start = performance.now();
    const conn = hub.connect(
      { channels: [`c${(k * 7919) % CHANNELS}`] },
      {
        snapshot() {},
        reset() {},
        event(frame) {
          if (t === 0) {
            void frame.sse;
            t = performance.now() - start;
          }
        },
      },
    );
    samples.push(t);
    conn.close();
  }
  samples.sort((a, b) => a - b);
  rows.push([
    `subscribe → first snapshot written, ${CHANNELS} channels`,
    `p50 ${fmt(percentile(samples, 50) * 1000, 1)} µs, p99 ${fmt(percentile(samples, 99) * 1000, 1)} µs`,
  ]);
  await hub.close();
})();

// 5. a new channel with 1,000 pattern subscriptions held
await (async () => {
  const PATTERNS = 1000;
  const created = quick ? 2000 : 20_000;
  const hub = createHub(contract, { state: initial, maxChannels: 3 * created + 10 });
  const timeCreating = (name) => {
    const start = performance.now();
    for (let i = 0; i < created; i++) hub.channel(name(i));
    return ((performance.now() - start) * 1000) / created;
  };
  timeCreating((i) => `w${i}`); // warm-up
  const bare = timeCreating((i) => `n${i}`);
  for (let i = 0; i < PATTERNS; i++) hub.connect({ channels: [`p${i}-*`] }, noSink);
  const held = timeCreating((i) => `m${i}`);
  rows.push(['new channel, no pattern held', `${fmt(bare)} µs`]);
  rows.push([`new channel matching none of ${PATTERNS} patterns held`, `${fmt(held)} µs`]);
  await hub.close();
})();

const width = Math.max(...rows.map((r) => r[0].length));
console.log(`@boardcast/core channels, Node ${process.version}${quick ? ' (quick)' : ''}`);
for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
