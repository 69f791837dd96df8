// The WebSocket floor: plain `ws`, one pre-serialized string (the same
// envelope @boardcast/ws-server sends) written to every open client.
import { WebSocketServer } from 'ws';
import { closeServer, http, listen } from './util.mjs';

export async function start() {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  let seq = 0;
  wss.on('connection', (ws) => {
    ws.on('message', (raw) => {
      try {
        const msg = JSON.parse(raw);
        ws.send(
          `{"type":"result","id":${JSON.stringify(msg.id)},"ok":true,"data":${JSON.stringify({ t: msg.data.t })}}`,
        );
      } catch {
        ws.close(1003);
      }
    });
  });
  const port = await listen(server);
  return {
    port,
    info: { ws: '/' },
    publish(data) {
      const frame = `{"type":"event","event":"tick","id":"${++seq}","data":${JSON.stringify(data)}}`;
      for (const client of wss.clients) if (client.readyState === 1) client.send(frame);
    },
    count: () => wss.clients.size,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await closeServer(server);
    },
  };
}
