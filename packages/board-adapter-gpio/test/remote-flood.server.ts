/**
 * The server half of the flood measurements, run as a child process with
 * `--expose-gc` (bundled by remote-flood.test.ts with esbuild) so that its
 * RSS and descriptors are the board link's alone. It listens on 127.0.0.1,
 * prints its port, and answers `sample` / `gc` messages over IPC.
 */
import { readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { attachBoardLink } from '../src/index.js';

const server = createServer((_req, res) => {
  res.statusCode = 404;
  res.end();
});
const link = attachBoardLink(server, { token: 'flood-token', heartbeatMs: 5000, retentionMs: 600_000 });

// Boards whose resync fails (flooders that never answer) report it on
// `error`; the flood is expected to cause that, so it is only counted.
let boardErrors = 0;
const listening = new WeakSet<object>();
link.on('connect', (board) => {
  if (listening.has(board)) return;
  listening.add(board);
  board.on('error', () => {
    boardErrors++;
  });
});

function sample() {
  const m = process.memoryUsage();
  return {
    rssMb: m.rss / 2 ** 20,
    heapMb: (m.heapUsed + m.external) / 2 ** 20,
    fds: readdirSync('/proc/self/fd').length,
    connections: link.connectionCount,
    boards: link.boards.length,
    readings: link.boards.reduce((n, b) => n + b.readings.size, 0),
    boardErrors,
  };
}

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'gc') {
    const g = (globalThis as { gc?: () => void }).gc;
    g?.();
    g?.();
  }
  if (msg.type === 'shutdown') {
    const started = performance.now();
    void link
      .close()
      .then(() =>
        process.send?.({ type: 'closed', ms: performance.now() - started, connections: link.connectionCount }),
      );
    return;
  }
  if (msg.type === 'close') {
    void link.close().then(() => server.close(() => process.exit(0)));
    return;
  }
  process.send?.({ type: 'sample', sample: sample() });
});

server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'port', port: (server.address() as AddressInfo).port });
});
