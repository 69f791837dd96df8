#!/usr/bin/env node
// Slow-header attack against the demo's Node timeouts and against Node's
// defaults, side by side on 127.0.0.1: N connections each send a partial
// request header and stall. Reports when the server closed them (p50, max)
// and how long a normal GET takes while they are held.
//   pnpm build && node examples/led-demo/scripts/slow-headers.mjs [--connections 1000]
// Node's defaults take up to headersTimeout 60 s + one 30 s check interval.
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
// The demo's timeouts are sse-server's defaults (run `pnpm build` first).
import { serverTimeouts } from '@boardcast/sse-server';

const { values } = parseArgs({
  options: { connections: { type: 'string' }, 'demo-only': { type: 'boolean' }, 'defaults-only': { type: 'boolean' } },
});
const n = Number(values.connections ?? 1000);

async function attack(name, options) {
  const server = createServer(options, (_req, res) => res.end('ok'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  const started = performance.now();
  const closedAt = [];
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((resolve) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
            resolve();
          });
          socket.on('error', () => undefined);
          socket.resume(); // read the 408 and the FIN, or 'close' never comes
          socket.on('close', () => closedAt.push(performance.now() - started));
        }),
    ),
  );
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/`);
  await res.text();
  const getMs = performance.now() - t0;
  while (closedAt.length < n) await new Promise((resolve) => setTimeout(resolve, 100));
  server.close();
  const sorted = closedAt.sort((a, b) => a - b);
  const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
  console.log(
    `${name}: ${n} stalled connections closed p50 ${s(sorted[Math.floor(n / 2)])}, max ${s(sorted[n - 1])}; a GET meanwhile: ${res.status} in ${getMs.toFixed(1)} ms`,
  );
}

const which = values['defaults-only'] ? [] : [attack('demo timeouts', serverTimeouts())];
if (!values['demo-only']) which.push(attack('Node defaults', {}));
await Promise.all(which);
