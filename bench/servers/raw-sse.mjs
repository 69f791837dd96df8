// The SSE floor: a hand-written `res.write` loop over the same clients, with
// the same wire format as @boardcast/sse-server, serialized once per publish.
// No limits, no backpressure, no replay: what it costs to just write.
import { closeServer, eventsServer, listen, readBody, writeStreamHead } from './util.mjs';

export async function start() {
  const clients = new Set();
  let seq = 0;
  const server = eventsServer(
    (_req, res) => {
      writeStreamHead(res);
      clients.add(res);
      res.on('close', () => clients.delete(res));
    },
    async (req, res) => {
      if (req.method !== 'POST' || req.url !== '/commands/ping') return res.writeHead(404).end();
      try {
        const input = JSON.parse(await readBody(req));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ t: input.t }));
      } catch {
        res.writeHead(400).end();
      }
    },
  );
  const port = await listen(server);
  return {
    port,
    info: { sse: '/events', http: '/commands/ping' },
    publish(data) {
      const frame = `id: ${++seq}\nevent: tick\ndata: ${JSON.stringify(data)}\n\n`;
      for (const res of clients) res.write(frame);
    },
    count: () => clients.size,
    close: () => closeServer(server),
  };
}
