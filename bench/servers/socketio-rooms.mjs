// socket.io 4 rooms, the way its docs do channels: websocket transport only,
// each client emits `join` with its room after connecting (acknowledged once
// `socket.join(room)` is done), and `io.to(room).emit('tick', data)` per event.
import { Server } from 'socket.io';
import { closeServer, http, listen } from './util.mjs';

export async function start({ channels } = {}) {
  if (!channels) throw new Error('socketio-rooms needs { channels }');
  const rooms = Array.from({ length: channels }, (_, k) => `c${k}`);
  const server = http.createServer();
  const io = new Server(server, { transports: ['websocket'], serveClient: false });
  // Sockets that joined their room: the orchestrator measures only once every client is in one.
  let joined = 0;
  io.on('connection', (socket) => {
    let inRoom = false;
    socket.on('join', async (room, ack) => {
      if (typeof room !== 'string' || inRoom) return;
      await socket.join(room);
      inRoom = true;
      joined++;
      if (typeof ack === 'function') ack(true);
    });
    socket.on('disconnect', () => {
      if (inRoom) joined--;
    });
  });
  const port = await listen(server);
  return {
    port,
    info: { ws: '/socket.io/?EIO=4&transport=websocket', room: 'c{c}' },
    publishTo(k, data) {
      io.to(rooms[k]).emit('tick', data);
    },
    count: () => joined,
    close: async () => {
      io.disconnectSockets(true);
      await new Promise((resolve) => io.close(() => resolve()));
      await closeServer(server).catch(() => {});
    },
  };
}
