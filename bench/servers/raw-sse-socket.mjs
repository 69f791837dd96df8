// A second SSE reference, below the res.write floor: the HTTP chunk framing
// is built once per event into one Buffer and written straight to each
// socket, skipping ServerResponse's per-write cork / nextTick / 3-part writev
// and the per-client UTF-8 encoding. Shows the headroom an SSE server has
// over `res.write` in Node.
import { closeServer, eventsServer, listen, writeStreamHead } from './util.mjs';

export async function start() {
  const sockets = new Set();
  let seq = 0;
  const server = eventsServer((_req, res) => {
    writeStreamHead(res);
    const socket = res.socket;
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listen(server);
  return {
    port,
    info: { sse: '/events' },
    publish(data) {
      const body = Buffer.from(`id: ${++seq}\nevent: tick\ndata: ${JSON.stringify(data)}\n\n`);
      const frame = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')]);
      for (const socket of sockets) socket.write(frame);
    },
    count: () => sockets.size,
    close: () => closeServer(server),
  };
}
