// socket.io 4 restricted to its websocket transport (no polling upgrade
// dance), `io.emit` per event, acknowledgements for commands.
import { Server } from 'socket.io';
import { closeServer, http, listen } from './util.mjs';

export async function start() {
  const server = http.createServer();
  const io = new Server(server, { transports: ['websocket'], serveClient: false });
  io.on('connection', (socket) => {
    socket.on('cmd', (data, ack) => {
      if (typeof ack === 'function') ack({ t: data?.t });
    });
  });
  const port = await listen(server);
  return {
    port,
    info: { ws: '/socket.io/?EIO=4&transport=websocket' },
    publish(data) {
      io.emit('tick', data);
    },
    count: () => io.engine.clientsCount,
    close: async () => {
      io.disconnectSockets(true);
      await new Promise((resolve) => io.close(() => resolve()));
      await closeServer(server).catch(() => {});
    },
  };
}
