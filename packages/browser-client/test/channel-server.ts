import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BoardcastError, ContractSpec, Hub } from '@boardcast/core';
import {
  decodeClientFrame,
  encodeWsResultError,
  encodeWsResultOk,
  type WireFrame,
  WS_PROTOCOL,
} from '@boardcast/core/wire';
import { WebSocketServer } from 'ws';

/**
 * A channel server as small as the wire allows, built on core's
 * `hub.connect` and writing exactly the frames core encodes: the stand-in
 * for sse-server/ws-server until they speak channels (same wire as the
 * issue's: `GET /api/events?channels=&fresh=&lastEventId=` or `POST` with
 * `{channels, lastEventId?, directory?}`, `/api/ws?channels=` with
 * subscribe/unsubscribe/command frames, `POST /api/commands/<name>?channel=`).
 * The principal is the `x-user` header or `?user=` (WS, native EventSource).
 */
export async function channelServer<C extends ContractSpec>(
  hub: Hub<C>,
  extra?: (req: IncomingMessage, res: ServerResponse) => boolean,
) {
  const streams = new Set<ServerResponse>();
  const principal = (req: IncomingMessage, url: URL) =>
    (req.headers['x-user'] as string | undefined) ?? url.searchParams.get('user') ?? undefined;
  const server = createServer(async (req, res) => {
    if (extra?.(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://x');
    let body = '';
    for await (const chunk of req) body += chunk;
    if (url.pathname === '/api/events') {
      let channels: (string | { channel: string; since?: string })[];
      let lastEventId: string | undefined;
      let fresh: string[] = [];
      let directory: object | undefined;
      if (req.method === 'POST') {
        const parsed = JSON.parse(body) as { channels: typeof channels; lastEventId?: string; directory?: object };
        channels = parsed.channels;
        lastEventId = parsed.lastEventId;
        directory = parsed.directory;
      } else {
        channels = (url.searchParams.get('channels') ?? '').split(',').filter(Boolean);
        lastEventId =
          (req.headers['last-event-id'] as string | undefined) ?? url.searchParams.get('lastEventId') ?? undefined;
        fresh = (url.searchParams.get('fresh') ?? '').split(',').filter(Boolean);
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      res.write(': open\n\n');
      streams.add(res);
      const connection = hub.connect(
        {
          channels: channels.filter((c) => !fresh.includes(typeof c === 'string' ? c : c.channel)),
          lastEventId,
          principal: principal(req, url),
          directory,
        },
        {
          snapshot: () => undefined,
          reset: () => undefined,
          event: (frame: WireFrame) => res.write(frame.sse),
          end: () => res.end(),
        },
      );
      if (fresh.length > 0) void connection.add(fresh);
      res.on('close', () => {
        streams.delete(res);
        connection.close();
      });
      return;
    }
    const command = /^\/api\/commands\/([^/]+)$/.exec(url.pathname);
    if (command && req.method === 'POST') {
      const result = await hub.dispatch(decodeURIComponent(command[1] as string), JSON.parse(body || 'null'), {
        transport: 'http',
        channel: url.searchParams.get('channel') ?? undefined,
        auth: principal(req, url),
      });
      res.writeHead(result.ok ? 200 : result.error.status, { 'content-type': 'application/json' });
      res.end(result.ok ? result.json : JSON.stringify(result.error.toBody()));
      return;
    }
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: () => WS_PROTOCOL });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const channels = url.searchParams.get('channels');
      const connection = hub.connect(
        {
          channels: channels === null ? undefined : channels.split(',').filter(Boolean),
          lastEventId: url.searchParams.get('lastEventId') ?? undefined,
          principal: principal(req, url),
        },
        {
          snapshot: (s) => ws.send(s.ws),
          reset: () => undefined,
          event: (frame: WireFrame) => ws.send(frame.ws),
          end: () => ws.close(1008),
        },
      );
      ws.on('message', async (raw) => {
        const frame = decodeClientFrame(String(raw));
        if (frame.type === 'subscribe') {
          const result = await connection.add(frame.channels);
          const refused = result.refused.map((r) => ({ channel: r.channel, error: r.error.toJSON() }));
          ws.send(encodeWsResultOk(frame.id, JSON.stringify({ added: result.added, refused })));
        } else if (frame.type === 'unsubscribe') {
          connection.remove(frame.channels);
          ws.send(encodeWsResultOk(frame.id, JSON.stringify({ removed: frame.channels })));
        } else if (frame.type === 'command') {
          const result = await hub.dispatch(frame.command, frame.data, {
            transport: 'ws',
            channel: frame.channel,
            auth: principal(req, url),
          });
          ws.send(
            result.ok
              ? encodeWsResultOk(frame.id, result.json)
              : encodeWsResultError(frame.id, result.error as BoardcastError),
          );
        } else if (frame.type === 'ping') ws.send('{"type":"pong"}');
      });
      ws.on('close', () => connection.close());
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/api`,
    /** Cut every stream and socket (the clients reconnect); the server keeps listening. */
    drop() {
      for (const res of streams) res.destroy();
      for (const ws of wss.clients) ws.terminate();
    },
    async close() {
      this.drop();
      wss.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
