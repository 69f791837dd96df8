// TCP port helpers for the tests (via daemon.ts and nginx.ts), the bench and
// the quickstart check: plain .mjs so the scripts can import them too.
import { connect, createServer } from 'node:net';

/** A free TCP port on 127.0.0.1: the OS picks it, and it is released for the process that will listen on it. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts a TCP connection on 127.0.0.1:`port` now (the connection is closed at once). */
export function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
