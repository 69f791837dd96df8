import http from 'node:http';

export function listen(server, host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0, backlog: 4096 }, () => resolve(server.address().port));
  });
}

/**
 * An HTTP server that hands `GET /events…` to `onEvents(req, res)` and every
 * other request to `onOther(req, res)` (default: 404): the routing of the SSE
 * servers here, so each file shows only how it serves a stream.
 */
export function eventsServer(onEvents, onOther = (_req, res) => res.writeHead(404).end()) {
  return http.createServer((req, res) =>
    req.method === 'GET' && req.url.startsWith('/events') ? onEvents(req, res) : onOther(req, res),
  );
}

/** The head of a hand-written SSE response (the floors): status, headers and a comment, so the stream is open at once. */
export function writeStreamHead(res) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write(': ok\n\n');
}

export function closeServer(server) {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The body of a small POST, capped so a floor cannot be made to buffer forever. */
export function readBody(req, limit = 65536) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) reject(new Error('too large'));
      else parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString()));
    req.on('error', reject);
  });
}

export { http };
