// Machine description, target verdicts and the markdown table.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function version(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8')).version;
  } catch {
    return 'missing';
  }
}

function git(root, ...args) {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function collectMeta({ root, here, pin, nice, smoke, profile }) {
  const pkg = (name) => version(path.join(root, 'packages', name, 'package.json'));
  const dep = (name) => version(path.join(here, 'node_modules', name, 'package.json'));
  const cpuList = os.cpus();
  return {
    date: new Date().toISOString(),
    mode: smoke ? 'smoke' : 'full',
    cpu: { model: cpuList[0]?.model ?? 'unknown', cores: cpuList.length },
    memoryGB: Math.round(os.totalmem() / 1024 ** 3),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    commit: `${git(root, 'rev-parse', '--short', 'HEAD')}${git(root, 'status', '--porcelain', '--', 'packages', 'bench') ? ' (dirty)' : ''}`,
    pinning: pin ? 'server process on CPU 0, load generators on CPU 1 (taskset)' : 'none',
    nice: nice ?? 0,
    packages: {
      '@boardcast/core': pkg('core'),
      '@boardcast/sse-server': pkg('sse-server'),
      '@boardcast/ws-server': pkg('ws-server'),
      'better-sse': dep('better-sse'),
      'socket.io': dep('socket.io'),
      ws: dep('ws'),
    },
    profile: JSON.parse(
      JSON.stringify(profile, (_k, v) => (typeof v === 'function' ? String(v).replace(/\s+/g, ' ') : v)),
    ),
  };
}

const fmt = (x, digits = 0) =>
  x === null || x === undefined || Number.isNaN(x)
    ? '–'
    : Number(x).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const ratio = (a, b) => (a && b ? a / b : null);

function find(list, key, clients) {
  return list.find((r) => r.server === key && (clients === undefined || r.clients === clients));
}

/** Each target of the issue, measured. */
export function evaluateTargets(results) {
  const targets = [];
  const counts = [...new Set(results.fanout.map((r) => r.clients))].sort((a, b) => a - b);
  const add = (target, measured, pass) => targets.push({ target, measured, pass });
  for (const n of counts) {
    const ours = find(results.fanout, 'boardcast-sse', n);
    if (!ours) continue;
    const o = ours.max.deliveriesPerSec;
    const peers = [
      ['better-sse', 1.5, '≥ 1.5× better-sse'],
      ['socketio', 3, '≥ 3× socket.io'],
    ];
    for (const [key, want, label] of peers) {
      const p = find(results.fanout, key, n);
      const r = ratio(o, p?.max.deliveriesPerSec);
      if (r !== null) add(`SSE fan-out ${fmt(n)} clients ${label}`, `${fmt(r, 2)}×`, r >= want);
    }
    const floor = find(results.fanout, 'raw-sse', n);
    const rf = ratio(o, floor?.max.deliveriesPerSec);
    if (rf !== null)
      add(`SSE fan-out ${fmt(n)} clients within 20 % of res.write loop`, `${fmt(rf * 100, 0)} %`, rf >= 0.8);
  }
  const big = counts.at(-1);
  const ours10k = find(results.fanout, 'boardcast-sse', big);
  if (ours10k) {
    add(
      `SSE p99 ≤ 50 ms at ${fmt(big)} clients (fixed rate)`,
      `${fmt(ours10k.fixed.latencyMs.p99, 1)} ms`,
      ours10k.fixed.latencyMs.p99 <= 50,
    );
  }
  for (const n of counts) {
    const ours = find(results.fanout, 'boardcast-ws', n);
    if (!ours) continue;
    const o = ours.max.deliveriesPerSec;
    const rf = ratio(o, find(results.fanout, 'raw-ws', n)?.max.deliveriesPerSec);
    if (rf !== null) add(`WS fan-out ${fmt(n)} clients within 10 % of raw ws`, `${fmt(rf * 100, 0)} %`, rf >= 0.9);
    const rs = ratio(o, find(results.fanout, 'socketio', n)?.max.deliveriesPerSec);
    if (rs !== null) add(`WS fan-out ${fmt(n)} clients ≥ 3× socket.io`, `${fmt(rs, 2)}×`, rs >= 3);
  }
  const memSse = find(results.memory, 'boardcast-sse');
  if (memSse)
    add('≤ 10 KB per idle SSE connection (RSS)', `${fmt(memSse.rssPerClientKB, 1)} KB`, memSse.rssPerClientKB <= 10);
  const memWs = find(results.memory, 'boardcast-ws');
  if (memWs)
    add('≤ 15 KB per idle WS connection (RSS)', `${fmt(memWs.rssPerClientKB, 1)} KB`, memWs.rssPerClientKB <= 15);
  for (const key of ['boardcast-sse', 'boardcast-ws']) {
    const clean = results.slow.find((r) => r.server === key && r.stalled === 0);
    const stalled = results.slow.find((r) => r.server === key && r.stalled > 0);
    if (!clean || !stalled) continue;
    const bound = (stalled.stalled * stalled.highWaterMarkKB) / 1024;
    const growth = stalled.rssAfterGcMB - clean.rssAfterGcMB;
    add(
      `${key} slow consumers: RSS (after GC) over the clean run ≤ ${stalled.stalled} × high-water mark (${fmt(bound, 1)} MB)`,
      `${fmt(growth, 1)} MB`,
      growth <= bound,
    );
    const r = ratio(stalled.p99Ms, clean.p99Ms);
    add(
      `${key} slow consumers: others' p99 ≤ 1.2× clean run`,
      `${fmt(r, 2)}× (${fmt(stalled.p99Ms, 1)} vs ${fmt(clean.p99Ms, 1)} ms)`,
      r !== null && r <= 1.2,
    );
  }
  const sio = results.channels?.find((r) => r.server === 'socketio-rooms');
  for (const r of results.channels ?? []) {
    if (r === sio || !sio) continue;
    const x = ratio(r.max.deliveriesPerSec, sio.max.deliveriesPerSec);
    if (x !== null)
      add(
        `Channels (${fmt(r.channels)} × ${fmt(r.clients / r.channels, 0)}): ${r.server} ≥ 1.5× socket.io rooms`,
        `${fmt(x, 2)}×`,
        x >= 1.5,
      );
  }
  return targets;
}

/** Generator CPU; flagged when the generators (all on one core when pinned) were close to saturating it. */
function genCell(phase, meta) {
  const sum = phase.generatorCpuPct.reduce((a, c) => a + (c ?? 0), 0);
  const limit = meta.pinning === 'none' ? 90 * phase.generatorCpuPct.length : 90;
  // Only a bottleneck when the server(s) had CPU to spare (several server
  // processes share CPU 0 in the redis scenario: their sum counts).
  const servers = (phase.serverCpuPct ?? 0) + (phase.relayServers ?? []).reduce((a, r) => a + (r.cpuPct ?? 0), 0);
  const bound = sum >= limit && servers < 90;
  return `${phase.generatorCpuPct.map((c) => `${fmt(c)} %`).join(' + ')}${bound ? ' ⚠' : ''}`;
}

/** The max phase's deliveries/s in bold, with the range of its repeated windows when there were several. */
function maxDeliveriesCell(x) {
  const range =
    x.runs && x.runs.length > 1
      ? ` (${fmt(Math.min(...x.runs) / 1000, 0)}–${fmt(Math.max(...x.runs) / 1000, 0)}k)`
      : '';
  return `**${fmt(x.deliveriesPerSec)}**${range}`;
}

/**
 * The complete cell of a fixed (`f`) and max (`x`) phase: `yes` when both
 * delivered every event once (with `foreign`: and no client got another
 * channel's event), else the fixed phase's deliveries and both phases' faults.
 */
function completeCell(f, x, { foreign = false } = {}) {
  const strays = (ph) => (foreign ? (ph.foreign ?? 0) : 0);
  const once = (ph) => ph.complete && ph.gaps === 0 && ph.dups === 0 && strays(ph) === 0;
  if (once(f) && once(x)) return 'yes';
  const faults = `gaps ${f.gaps + x.gaps}, dups ${f.dups + x.dups}${foreign ? `, foreign ${strays(f) + strays(x)}` : ''}`;
  return `no (fixed ${fmt(f.deliveries)}/${fmt(f.expected)}, ${faults})`;
}

export function renderMarkdown(results) {
  const m = results.meta;
  const out = [];
  const p = (s = '') => out.push(s);
  p(`# boardcast bench — ${m.date.slice(0, 10)} (${m.mode})`);
  p();
  p(`- CPU: ${m.cpu.model}, ${m.cpu.cores} cores, ${m.memoryGB} GB; ${m.os}`);
  p(`- Node ${m.node}; commit ${m.commit}`);
  p(`- Pinning: ${m.pinning}; nice ${m.nice}. Server and load generators share this one machine.`);
  p(
    `- Packages: ${Object.entries(m.packages)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  p(`- Run time: ${results.durationS} s`);
  p();
  const targets = evaluateTargets(results);
  results.targets = targets;
  if (targets.length) {
    p('## Targets');
    p();
    if (m.mode === 'smoke')
      p('_Smoke sizes: these verdicts prove the plumbing, they say nothing about the targets._\n');
    p('| target | measured | |');
    p('|---|---|---|');
    for (const t of targets) p(`| ${t.target} | ${t.measured} | ${t.pass ? 'met' : '**missed**'} |`);
    p();
  }
  const fanTable = (title, keys) => {
    const rows = results.fanout.filter((r) => keys.includes(r.server));
    if (!rows.length) return;
    p(`## ${title}`);
    p();
    p(
      'Fixed rate: events/s as published; latency is publish → receipt over every delivery. Max: as fast as the slowest client keeps up (bounded window); median of the repeated windows, with their range. CPU in % of one core; gen = load generator process(es), ⚠ = generators near one full core while the server was not (then the figure is a lower bound); other = CPU used on the machine by anything else during the window.',
    );
    p();
    p(
      '| server | clients | fixed ev/s | fixed p50 / p99 / max ms | fixed CPU | **max deliveries/s** | max p50 / p99 ms | max CPU | RSS MB | gen CPU | other CPU | complete |',
    );
    p('|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---|');
    for (const r of rows.sort((a, b) => a.clients - b.clients || keys.indexOf(a.server) - keys.indexOf(b.server))) {
      const f = r.fixed;
      const x = r.max;
      p(
        `| ${r.label} | ${fmt(r.clients)} | ${fmt(f.eventsPerSec)} | ${fmt(f.latencyMs.p50, 2)} / ${fmt(f.latencyMs.p99, 2)} / ${fmt(f.latencyMs.max, 1)} | ${fmt(f.serverCpuPct)} % | ${maxDeliveriesCell(x)} | ${fmt(x.latencyMs.p50, 1)} / ${fmt(x.latencyMs.p99, 1)} | ${fmt(x.serverCpuPct)} % | ${fmt(x.serverPeakRssMB)} | ${genCell(x, m)} | ${fmt(x.otherCpuPct)} % | ${f.complete && x.gaps === 0 ? 'yes' : `no (${fmt(f.deliveries)}/${fmt(f.expected)}, gaps ${x.gaps})`} |`,
      );
    }
    p();
  };
  fanTable('1. SSE fan-out', ['boardcast-sse', 'better-sse', 'raw-sse', 'raw-sse-socket', 'socketio']);
  fanTable('2. WebSocket fan-out', ['boardcast-ws', 'raw-ws', 'socketio']);
  if (results.memory.length) {
    p('## 3. Memory per idle connection');
    p();
    p('Server RSS and V8 heap after a forced GC, with the clients connected minus before, divided by the count.');
    p();
    p('| server | clients | RSS before → after MB | RSS KB/client | heap KB/client | external KB/client |');
    p('|---|---:|---|---:|---:|---:|');
    for (const r of results.memory) {
      p(
        `| ${r.label} | ${fmt(r.clients)} | ${fmt(r.rssBeforeMB, 1)} → ${fmt(r.rssAfterMB, 1)} | ${fmt(r.rssPerClientKB, 2)} | ${fmt(r.heapPerClientKB, 2)} | ${fmt(r.externalPerClientKB, 2)} |`,
      );
    }
    p();
  }
  if (results.commands.length) {
    p('## 4. Command round trip');
    p();
    p(
      'Each command client keeps one command in flight and sends at most one per interval; listeners receive a steady event stream meanwhile.',
    );
    p();
    p(
      '| server | transport | clients | target/s | done/s | p50 ms | p99 ms | max ms | errors | listeners p99 ms | server CPU |',
    );
    p('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of results.commands) {
      p(
        `| ${r.label} | ${r.transport} | ${r.commandClients} (+${fmt(r.listeners)} listening) | ${fmt(r.targetPerSec)} | ${fmt(r.perSec)} | ${fmt(r.rttMs.p50, 2)} | ${fmt(r.rttMs.p99, 2)} | ${fmt(r.rttMs.max, 1)} | ${r.errors} | ${fmt(r.listenerLatencyMs.p99, 2)} | ${fmt(r.serverCpuPct)} % |`,
      );
    }
    p();
  }
  if (results.slow.length) {
    p('## 5. Slow consumers');
    p();
    p('Some clients stop reading right after connecting; the rest keep reading. RSS sampled every 250 ms.');
    p();
    p(
      '| server | stalled | high-water mark | others p50 / p99 / max ms | RSS start → peak → end MB | RSS after GC MB | still connected at end | others complete |',
    );
    p('|---|---:|---:|---|---|---:|---:|---|');
    for (const r of results.slow) {
      p(
        `| ${r.label} | ${r.stalled} | ${r.highWaterMarkKB ? `${fmt(r.highWaterMarkKB)} KB` : 'none'} | ${fmt(r.p50Ms, 2)} / ${fmt(r.p99Ms, 2)} / ${fmt(r.maxMs, 1)} | ${fmt(r.rssStartMB, 1)} → ${fmt(r.rssPeakMB, 1)} → ${fmt(r.rssEndMB, 1)} | ${fmt(r.rssAfterGcMB, 1)} | ${fmt(r.serverClientsAtEnd)} | ${r.complete ? 'yes' : `${fmt(r.deliveries)}/${fmt(r.expected)}`} |`,
      );
    }
    p();
  }
  if (results.redis?.length || results.redisSkipped) {
    p('## 6. Fan-out through Redis: 2 instances vs 1 in-memory instance');
    p();
    if (results.redisSkipped) p(`_Skipped: ${results.redisSkipped}._\n`);
  }
  if (results.redis?.length) {
    const r0 = results.redis[0];
    p(
      `Same ${fmt(r0.clients)} SSE clients and the same events either way. **Redis**: two \`@boardcast/sse-server\` processes, each a hub on \`new RedisBus({ redis, name })\` (one shared stream) with ${fmt(results.redis.find((r) => r.setup === 'redis')?.clientsPerInstance ?? 0)} clients and its own load generator; events are published on instance #1 only, so every event goes publisher → XADD → Redis → XREAD on both instances → their clients. **Baseline**: one process on the default in-memory bus with all the clients (two generators). Latency is publish call → bytes read by the client, over every delivery; "#1 / #2" splits p99 by the instance the clients are on. Max = closed loop, median of the repeated windows.`,
    );
    p();
    p(
      `**CPU budget: ${m.cpu.cores} cores for everything.** ${m.pinning === 'none' ? 'Nothing pinned: servers, redis-server and generators share every core.' : "Both server processes _and_ redis-server are pinned to CPU 0 — the same one core the baseline server has — and the generators to CPU 1. So this compares the cost of going through Redis at equal CPU; it cannot show two instances using two cores (on this machine the second core is the generators'). Server CPU figures add up within one core."}`,
    );
    p();
    p(
      '| setup | clients | fixed ev/s | fixed deliveries/s | fixed p50 / p99 / max ms | fixed p99 #1 / #2 | **max deliveries/s** | max p50 / p99 / max ms | max p99 #1 / #2 | server CPU fixed / max | server RSS MB | redis CPU fixed / max | gen CPU | other CPU | complete |',
    );
    p('|---|---:|---:|---:|---|---|---:|---|---|---|---|---|---:|---:|---|');
    for (const r of results.redis) {
      const f = r.fixed;
      const x = r.max;
      const perInstance = (ph) =>
        r.setup === 'redis' ? ph.latencyByGeneratorMs.map((l) => fmt(l.p99, 1)).join(' / ') : '–';
      const cpu = (ph) => [ph.serverCpuPct, ...ph.relayServers.map((s) => s.cpuPct)].map((c) => `${fmt(c)} %`);
      const fc = cpu(f);
      const xc = cpu(x);
      const cpuCell = fc.map((c, i) => `${r.setup === 'redis' ? `#${i + 1} ` : ''}${c} / ${xc[i]}`).join('<br>');
      const rss = [x.serverPeakRssMB, ...x.relayServers.map((s) => s.peakRssMB)]
        .map((v, i) => `${r.setup === 'redis' ? `#${i + 1} ` : ''}${fmt(v)}`)
        .join('<br>');
      const redisCpu = r.setup === 'redis' ? `${fmt(f.redisCpuPct)} % / ${fmt(x.redisCpuPct)} %` : '–';
      const complete = completeCell(f, x);
      p(
        `| ${r.label} | ${fmt(r.clients)}${r.setup === 'redis' ? ` (${r.instances} × ${fmt(r.clientsPerInstance)})` : ''} | ${fmt(f.eventsPerSec)} | ${fmt(f.deliveriesPerSec)} | ${fmt(f.latencyMs.p50, 2)} / ${fmt(f.latencyMs.p99, 2)} / ${fmt(f.latencyMs.max, 1)} | ${perInstance(f)} | ${maxDeliveriesCell(x)} | ${fmt(x.latencyMs.p50, 1)} / ${fmt(x.latencyMs.p99, 1)} / ${fmt(x.latencyMs.max, 1)} | ${perInstance(x)} | ${cpuCell} | ${rss} | ${redisCpu} | ${genCell(x, m)} | ${fmt(x.otherCpuPct)} % | ${complete} |`,
      );
    }
    p();
    p(
      "Max-rate latency is the closed loop's queue, not the bus: the window lets the publisher be up to `window` events ahead of the slowest client. With the in-memory bus `hub.publish` writes to every client before it returns, so the publisher cannot run ahead and the queue stays small; through Redis a publish is one `XADD` and the fan-out happens later on each instance, so the publisher fills the whole window and p50/p99 ≈ window ÷ events/s. Compare latency at the fixed rate.",
    );
    p();
  }
  if (results.channels?.length) {
    const c0 = results.channels[0];
    p(`## 7. Channels: ${fmt(c0.clients)} clients on ${fmt(c0.channels)} channels`);
    p();
    p(
      `Client i is subscribed to channel \`c<i mod ${fmt(c0.channels)}>\` only: SSE \`GET /events?channels=c<k>\` on \`boardcastHttp(hub)\`, WS \`?channels=c<k>\` on \`createWsEndpoint\`'s upgrade, socket.io a \`join\` after connect (\`socket.join(room)\`). Every event goes to one channel: \`hub.channel('c<k>').publish('tick', data)\` / \`io.to(room).emit('tick', data)\`. Fixed: ${fmt(results.meta.profile.channels?.fixedRate)} events/s per channel; CPU/delivery = server CPU ÷ deliveries at that rate. Max: closed loop in rounds (one event on every channel), median of the windows. Complete = every client got exactly its own channel's events of the window, once, in order (sequence per channel, channel number in the payload). Load average = the machine's 1-minute load before → after the run (${m.cpu.cores} cores).`,
    );
    p();
    p(
      '| server | fixed deliveries/s (target) | fixed p50 / p99 / max ms | fixed CPU | CPU µs/delivery | **max deliveries/s** | max per-channel ev/s | max p50 / p99 ms | max CPU | max deliveries per CPU-s | RSS MB | gen CPU | other CPU | load avg | complete |',
    );
    p('|---|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---|');
    for (const r of results.channels) {
      const f = r.fixed;
      const x = r.max;
      const complete = completeCell(f, x, { foreign: true });
      p(
        `| ${r.label} | ${fmt(f.deliveriesPerSec)} (${fmt(r.fixedTargetEventsPerSec * (r.clients / r.channels))}) | ${fmt(f.latencyMs.p50, 2)} / ${fmt(f.latencyMs.p99, 2)} / ${fmt(f.latencyMs.max, 1)} | ${fmt(f.serverCpuPct)} % | ${fmt(r.cpuUsPerDelivery, 1)} | ${maxDeliveriesCell(x)} | ${fmt(x.eventsPerSec / r.channels, 1)} | ${fmt(x.latencyMs.p50, 1)} / ${fmt(x.latencyMs.p99, 1)} | ${fmt(x.serverCpuPct)} % | ${fmt(x.deliveriesPerCpuSecondMedian ?? x.deliveriesPerCpuSecond)} | ${fmt(x.serverPeakRssMB)} | ${genCell(x, m)} | ${fmt(Math.max(f.otherCpuPct ?? 0, x.otherCpuPct ?? 0))} % | ${fmt(r.loadavg.before[0], 1)} → ${fmt(r.loadavg.after[0], 1)} | ${complete} |`,
      );
    }
    p();
    const sio = results.channels.find((r) => r.server === 'socketio-rooms');
    if (sio) {
      for (const r of results.channels.filter((x) => x !== sio)) {
        p(
          `- ${r.label} vs socket.io rooms: max deliveries/s ${fmt(ratio(r.max.deliveriesPerSec, sio.max.deliveriesPerSec), 2)}× (goal ≥ 1.5×), per CPU-second ${fmt(ratio(r.max.deliveriesPerCpuSecondMedian ?? r.max.deliveriesPerCpuSecond, sio.max.deliveriesPerCpuSecondMedian ?? sio.max.deliveriesPerCpuSecond), 2)}×, p50 ${fmt(ratio(r.fixed.latencyMs.p50, sio.fixed.latencyMs.p50), 2)}×, p99 ${fmt(ratio(r.fixed.latencyMs.p99, sio.fixed.latencyMs.p99), 2)}×, CPU per delivery ${fmt(ratio(r.cpuUsPerDelivery, sio.cpuUsPerDelivery), 2)}× (lower is better for the last three).`,
        );
      }
      p();
    }
  }
  if (results.failures?.length) {
    p('## Runs that did not complete');
    p();
    p(
      'A peer that fails here could not sustain the scenario (its publish loop did not finish within 20 s of the end).',
    );
    p();
    for (const f of results.failures) p(`- ${f.what}${f.peer ? ' (peer)' : ''}: ${f.error}`);
    p();
  }
  return `${out.join('\n')}\n`;
}
