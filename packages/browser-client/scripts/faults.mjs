#!/usr/bin/env node
/**
 * Fault drill: how long a client takes to notice each fault and to resume
 * (or stop), with every default (client, sse-server, ws-server), over real
 * sockets on 127.0.0.1. For each transport (SSE in fetch mode, WebSocket)
 * and each fault, `--runs` clients (default 20) live through it at the same
 * time, each measured on its own; the table gives p50 / p90 / max in ms.
 *
 * - server killed: every socket destroyed and the listener closed, then a
 *   new server on the same port at once. t0 = the kill; notice = status
 *   `reconnecting`; resumed = `open` again (resuming, no snapshot).
 * - link silent: each client through its own TCP proxy, stalled (no FIN, no
 *   RST) at a random moment within 15 s (one default keep-alive period).
 *   t0 = its stall; notice = `reconnecting` (`timeout`); new TCP flows
 *   work again from that moment (the proxy resumes: a NAT that forgot one
 *   flow); resumed = `open` again.
 * - event too large: one 2 MB event (default maxEventSize 1 MiB), then a
 *   small one. t0 = the publish; notice = `error` payload_too_large;
 *   resumed = the small event (the large one is skipped in place and the
 *   stream goes on; no reducer depends on it, so no fresh snapshot).
 * - id refused: a client starts from an id the server cannot use. Real
 *   servers answer reset + snapshot: t0 = connect(); notice = `reset`;
 *   resumed = `snapshot`. "(400)" is a server that refuses it instead (SSE:
 *   HTTP 400 invalid_payload; WS: an `error` envelope and close): notice =
 *   `error`; resumed = the snapshot of the fresh connection.
 *
 *   node packages/browser-client/scripts/faults.mjs [--runs 20] [--only sse|ws] [--json]
 *
 * The sources (client, servers, core, the test proxy) are bundled with
 * esbuild first, so no `pnpm build` is needed.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = fileURLToPath(new URL('..', import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const RUNS = Number(arg('runs', 20));
const ONLY = arg('only', undefined);
const JSON_OUT = process.argv.includes('--json');

async function load() {
  const result = await build({
    stdin: {
      contents: `
        export { connect } from './src/index.ts';
        export { createHub, defineContract, typed } from '@boardcast/core';
export { WS_PROTOCOL } from '@boardcast/core/wire';
        export { boardcastHttp } from '@boardcast/sse-server';
        export { createWsEndpoint } from '@boardcast/ws-server';
        export { startTcpProxy } from '../../test-support/tcp-proxy.ts';
        export { WebSocket, WebSocketServer } from 'ws';`,
      resolveDir: here,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    external: ['bufferutil', 'utf-8-validate'],
    logLevel: 'silent',
  });
  const dir = mkdtempSync(join(tmpdir(), 'boardcast-faults-'));
  const file = join(dir, 'bundle.cjs');
  writeFileSync(file, result.outputFiles[0].text);
  try {
    return createRequire(import.meta.url)(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const bc = await load();
const { createServer } = await import('node:http');

const contract = bc.defineContract({
  events: { tick: bc.typed(), blob: bc.typed() },
  commands: {},
  state: bc.typed(),
});
const initial = { tick: 0 };

/** sse-server + ws-server with defaults on one HTTP server; `kill()` destroys every socket. */
async function startServer(hub, port = 0) {
  const api = bc.boardcastHttp(hub, { base: '/api' });
  const server = createServer((req, res) => api.node(req, res));
  const ws = bc.createWsEndpoint(hub, { server, path: '/api/ws' });
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: server.address().port,
    async kill() {
      for (const s of sockets) s.destroy();
      server.close();
      await Promise.allSettled([api.close(), ws.close()]);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.allSettled([api.close(), ws.close(), new Promise((r) => server.close(r))]);
    },
  };
}

const clientOptions = (transport) => (transport === 'sse' ? {} : { transport: 'ws', WebSocket: bc.WebSocket });

/** A client with timestamps of what it reported. */
function watch(client) {
  const seen = { status: [], errors: [], resets: [], snapshots: [], ticks: [] };
  client.onStatus((s) => seen.status.push({ t: performance.now(), ...s }));
  client.on('error', (e) => seen.errors.push({ t: performance.now(), code: e.code }));
  client.on('reset', (r) => seen.resets.push({ t: performance.now(), r }));
  client.on('snapshot', () => seen.snapshots.push({ t: performance.now() }));
  client.on('tick', () => seen.ticks.push({ t: performance.now() }));
  return seen;
}

async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const after = (list, t0, pred = () => true) => list.find((x) => x.t >= t0 && pred(x))?.t;

/** `RUNS` watched clients of `transport` (client `i` at `urlOf(i)`), once every one is open with a state. */
async function openClients(transport, urlOf) {
  const clients = Array.from({ length: RUNS }, (_, i) => bc.connect(urlOf(i), contract, clientOptions(transport)));
  const seen = clients.map(watch);
  await until(() => clients.every((c) => c.status === 'open' && c.state), 20_000, 'open');
  return { clients, seen };
}

/**
 * Waits for a snapshot in every client started at `t0` with a resume id the
 * server cannot use; closes them. Notice: the first of `noticeOf(seen)`.
 */
async function untilFresh(clients, t0, noticeOf) {
  const seen = clients.map(watch);
  await until(() => seen.every((s) => s.snapshots.length > 0), 60_000, 'snapshots');
  for (const c of clients) c.close();
  return seen.map((s) => ({ notice: after(noticeOf(s), t0) - t0, resume: after(s.snapshots, t0) - t0 }));
}

/** A hub in its initial state and a server of it for `run({ hub, server })`; both are closed after it. */
async function withServer(run) {
  const hub = bc.createHub(contract, { state: initial });
  const server = await startServer(hub);
  try {
    return await run({ hub, server });
  } finally {
    await server.close();
    await hub.close();
  }
}

// The server is killed (close() after kill() is harmless) and a new one started on its port.
const serverKilled = (transport) =>
  withServer(async ({ hub, server: killed }) => {
    const { clients, seen } = await openClients(transport, () => `http://127.0.0.1:${killed.port}/api`);
    await hub.publish('tick', 1);
    const t0 = performance.now();
    await killed.kill();
    const server = await startServer(hub, killed.port);
    await until(() => seen.every((s) => after(s.status, t0, (x) => x.status === 'open')), 120_000, 'everyone back');
    const rows = seen.map((s) => ({
      notice: after(s.status, t0, (x) => x.status === 'reconnecting') - t0,
      resume: after(s.status, t0, (x) => x.status === 'open') - t0,
      snapshots: s.snapshots.length,
    }));
    for (const c of clients) c.close();
    await server.close();
    return rows;
  });

const linkSilent = (transport) =>
  withServer(async ({ server }) => {
    const proxies = await Promise.all(Array.from({ length: RUNS }, () => bc.startTcpProxy(server.port)));
    const { clients, seen } = await openClients(transport, (i) => `http://127.0.0.1:${proxies[i].port}/api`);
    // Each link dies at a random moment within one default keep-alive period
    // (15 s), as a real fault does, so the figures are not all the worst case.
    const t0 = clients.map(() => 0);
    // New flows work again as soon as the client gave up on the dead one.
    clients.forEach((c, i) => {
      c.onStatus((s) => {
        if (t0[i] && s.status === 'reconnecting') proxies[i].resume();
      });
    });
    proxies.forEach((p, i) => {
      setTimeout(() => {
        t0[i] = performance.now();
        p.stall();
      }, Math.random() * 15_000);
    });
    await until(
      () => seen.every((s, i) => t0[i] && after(s.status, t0[i], (x) => x.status === 'open')),
      120_000,
      'everyone back',
    );
    const rows = seen.map((s, i) => ({
      notice: after(s.status, t0[i], (x) => x.status === 'reconnecting') - t0[i],
      resume: after(s.status, t0[i], (x) => x.status === 'open') - t0[i],
    }));
    for (const c of clients) c.close();
    await Promise.all(proxies.map((p) => p.close()));
    return rows;
  });

const tooLarge = (transport) =>
  withServer(async ({ hub, server }) => {
    const { clients, seen } = await openClients(transport, () => `http://127.0.0.1:${server.port}/api`);
    const t0 = performance.now();
    await hub.publish('blob', 'x'.repeat(2_000_000));
    await hub.publish('tick', 2);
    await until(() => seen.every((s) => after(s.ticks, t0)), 120_000, 'the event after it');
    const rows = seen.map((s) => ({
      notice: after(s.errors, t0, (x) => x.code === 'payload_too_large') - t0,
      resume: after(s.ticks, t0) - t0,
    }));
    for (const c of clients) c.close();
    return rows;
  });

const idRefusedReal = (transport) =>
  withServer(async ({ hub, server }) => {
    await hub.publish('tick', 1);
    const url = `http://127.0.0.1:${server.port}/api`;
    const t0 = performance.now();
    const clients = Array.from({ length: RUNS }, (_, i) =>
      bc.connect(url, contract, { ...clientOptions(transport), lastEventId: i % 2 ? 'no-such-id' : 'x'.repeat(300) }),
    );
    return untilFresh(clients, t0, (s) => s.resets);
  });

/** A server that refuses any resume id (SSE: HTTP 400; WS: `error` envelope, then close). */
async function idRefused400(transport) {
  const snapshot = `{"tick":0}`;
  let close;
  let port;
  if (transport === 'sse') {
    const server = createServer((req, res) => {
      if (req.headers['last-event-id']) {
        res.writeHead(400, { 'content-type': 'application/json' });
        return res.end('{"error":{"code":"invalid_payload","message":"unknown Last-Event-ID"}}');
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        `retry: 3000\n\nevent: keepalive\ndata: {"intervalMs":15000}\n\nid: e-1\nevent: snapshot\ndata: ${snapshot}\n\n`,
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = server.address().port;
    close = () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    };
  } else {
    const wss = new bc.WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => bc.WS_PROTOCOL });
    await once(wss, 'listening');
    wss.on('connection', (socket, req) => {
      if (new URL(req.url, 'http://x').searchParams.get('lastEventId')) {
        socket.send('{"type":"error","error":{"code":"invalid_payload","message":"unknown lastEventId"}}');
        return socket.close(1007, 'invalid_payload');
      }
      socket.send(`{"type":"snapshot","id":"e-1","data":${snapshot}}`);
    });
    port = wss.address().port;
    close = () => {
      for (const c of wss.clients) c.terminate();
      return new Promise((r) => wss.close(r));
    };
  }
  const t0 = performance.now();
  const clients = Array.from({ length: RUNS }, () =>
    bc.connect(`http://127.0.0.1:${port}/api`, contract, {
      ...clientOptions(transport),
      eventsUrl: `http://127.0.0.1:${port}/`,
      wsUrl: `ws://127.0.0.1:${port}/`,
      lastEventId: 'stale-1',
    }),
  );
  const rows = await untilFresh(clients, t0, (s) => s.errors);
  await close();
  return rows;
}

const pct = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const fmt = (v) => (v === undefined || Number.isNaN(v) ? '—' : String(Math.round(v)).padStart(6));

const faults = [
  ['server killed', serverKilled],
  ['link silent', linkSilent],
  ['event too large', tooLarge],
  ['id refused (real server)', idRefusedReal],
  ['id refused (400)', idRefused400],
];
const results = [];
for (const transport of ['sse', 'ws']) {
  if (ONLY && ONLY !== transport) continue;
  for (const [name, run] of faults) {
    const rows = await run(transport);
    const notice = rows.map((r) => r.notice);
    const resume = rows.map((r) => r.resume);
    const result = {
      transport,
      fault: name,
      runs: rows.length,
      notice: { p50: pct(notice, 50), p90: pct(notice, 90), max: Math.max(...notice) },
      resume: { p50: pct(resume, 50), p90: pct(resume, 90), max: Math.max(...resume) },
    };
    results.push(result);
    if (!JSON_OUT) {
      console.log(
        `${transport.padEnd(4)} ${name.padEnd(26)} notice p50 ${fmt(result.notice.p50)}  p90 ${fmt(result.notice.p90)}  max ${fmt(result.notice.max)}   ` +
          `resumed p50 ${fmt(result.resume.p50)}  p90 ${fmt(result.resume.p90)}  max ${fmt(result.resume.max)}   (ms, ${rows.length} runs)`,
      );
    }
  }
}
if (JSON_OUT) console.log(JSON.stringify(results, null, 2));
