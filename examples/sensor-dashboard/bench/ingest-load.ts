/**
 * How many readings per second `POST /api/readings` sustains while 10
 * clients stream every reading over SSE (browser-client in fetch mode, the
 * same code a browser runs without native EventSource).
 *
 *   pnpm --filter sensor-dashboard bench:ingest [-- --seconds 5 --batch 1,10 --posters 8]
 *
 * Bounded: a fixed duration per batch size, a fixed number of posters.
 * Server, posters and the 10 clients share this one process (and so its
 * CPU), which makes the figure a floor for a server running alone.
 */
import { Agent, request } from 'node:http';
import { text } from 'node:stream/consumers';
import { connect } from '@boardcast/browser-client';
import { dashboard } from '../src/contract.js';
import { startDashboard } from '../src/server.js';
import { benchOptions } from './options.js';

const {
  seconds,
  batch: batchSizes,
  posters,
  clients: clientCount,
} = benchOptions({ seconds: 5, batch: '1,10', posters: 8, clients: 10 });
const sensors = ['temperature', 'humidity', 'light'] as const;

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** node:http with keep-alive: far cheaper per request than fetch, so the posters steal less CPU from the server. */
function post(agent: Agent, url: URL, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        text(res).then((answer) => resolve({ status: res.statusCode ?? 0, text: answer }), reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function run(batch: number) {
  const app = await startDashboard({ port: 0, host: '127.0.0.1', assetsDir: '/nonexistent', history: 10_000 });
  const received = new Array<number>(clientCount).fill(0);
  const clients = Array.from({ length: clientCount }, (_, i) => {
    const client = connect(`${app.url}/api`, dashboard, { transport: 'sse', eventSource: 'fetch' });
    client.on('reading', () => {
      received[i]!++;
    });
    return client;
  });
  await waitUntil(() => clients.every((c) => c.status === 'open' && c.state !== undefined), 10_000);

  let accepted = 0;
  let failed = 0;
  const stopAt = Date.now() + seconds * 1000;
  const started = performance.now();
  const agent = new Agent({ keepAlive: true, maxSockets: posters });
  const target = new URL('/api/readings', app.url);
  const poster = async (p: number) => {
    let n = 0;
    while (Date.now() < stopAt) {
      const body = Array.from({ length: batch }, (_, i) => ({
        sensor: sensors[(n + i + p) % 3],
        value: Math.round(Math.random() * 1000) / 10,
      }));
      n += batch;
      const res = await post(agent, target, JSON.stringify(batch === 1 ? body[0] : body));
      if (res.status === 200) accepted += (JSON.parse(res.text) as { accepted: number }).accepted;
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: posters }, (_, p) => poster(p)));
  const ingestMs = performance.now() - started;
  const allDelivered = await waitUntil(() => received.every((r) => r >= accepted), 30_000);
  const deliveredMs = performance.now() - started;
  for (const client of clients) client.close();
  agent.destroy();
  await app.close();
  return {
    batch,
    accepted,
    failed,
    ingestPerSecond: Math.round(accepted / (ingestMs / 1000)),
    deliveredPerClientPerSecond: Math.round(Math.min(...received) / (deliveredMs / 1000)),
    allDelivered,
  };
}

console.log(
  `node ${process.version}, ${clientCount} SSE clients (browser-client, fetch mode), ${posters} concurrent posters, ${seconds} s per run`,
);
for (const batch of batchSizes.split(',').map(Number)) {
  const r = await run(batch);
  console.log(
    `batch ${String(r.batch).padStart(3)}: ${r.ingestPerSecond} readings/s accepted (${r.accepted} total, ${r.failed} failed requests); ` +
      `each client got ${r.deliveredPerClientPerSecond} readings/s; every reading reached every client: ${r.allDelivered}`,
  );
}
