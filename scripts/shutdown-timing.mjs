// What the SSE and WS shutdown-time scripts (packages/*/scripts/shutdown-time.mjs)
// share: waiting for a condition, the upgrade requests nobody answers, and
// timing a number of runs.
import { connect } from 'node:net';

/** Resolve once `check()` is true (polled every 5 ms); reject after `timeoutMs`. */
export function until(check, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out: ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

/**
 * `count` WebSocket upgrade requests to paths nobody serves, on raw sockets:
 * what a foreign `upgrade` listener that never answers is left holding.
 */
export function unansweredUpgrades(port, count) {
  const sockets = [];
  for (let i = 0; i < count; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(
      `GET /nope/${i} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    sockets.push(socket);
  }
  return sockets;
}

/** Resolve once `server` has accepted `count` connections. */
export function accepted(server, count) {
  let connections = 0;
  return until(() => {
    server.getConnections((_e, n) => {
      connections = n;
    });
    return connections >= count;
  }, 'every connection accepted');
}

/** Run `run` (which resolves to milliseconds) `runs` times, one after another: `p50 … ms, min … ms, max … ms over N runs`. */
export async function timeRuns(runs, run) {
  const times = [];
  for (let i = 0; i < runs; i++) times.push(await run());
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor(times.length / 2)];
  return `p50 ${p50.toFixed(0)} ms, min ${times[0].toFixed(0)} ms, max ${times.at(-1).toFixed(0)} ms over ${runs} runs`;
}
