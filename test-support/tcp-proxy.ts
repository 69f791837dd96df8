/**
 * A TCP proxy on 127.0.0.1 that can go silent the way a Wi-Fi link or a NAT
 * that forgot the flow does: `stall()` stops forwarding in both directions
 * without FIN or RST. Bytes already in flight stay in the kernel's buffers
 * (the proxy stops reading), so the peers' send buffers fill and their writes
 * back up, exactly as behind a dead link. `resume()` forwards again;
 * `cut()` resets every connection; `close()` ends everything.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export interface TcpProxy {
  /** Port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /** Stop forwarding both ways, no FIN, no RST; new connections are accepted but stall too. */
  stall(): void;
  /** Forward again (what the kernels buffered meanwhile is delivered). */
  resume(): void;
  /** Reset every open connection (RST to both sides). */
  cut(): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
}

/** Start a proxy that forwards 127.0.0.1:<returned port> to 127.0.0.1:`targetPort`. */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let stalled = false;

  const server: Server = createServer((client) => {
    const upstream = tcpConnect(targetPort, targetHost);
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    // Forward by hand (no pipe()) so a stall really stops reading: pipe()
    // would resume a paused source on 'drain'.
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk) => {
        if (!to.write(chunk)) from.pause();
      });
      to.on('drain', () => {
        if (!stalled) from.resume();
      });
      from.on('end', () => to.end());
    };
    forward(client, upstream);
    forward(upstream, client);
    const done = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', done);
    upstream.on('close', done);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    if (stalled) {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');

  return {
    port: address.port,
    get connections() {
      return pairs.size;
    },
    stall() {
      stalled = true;
      for (const { client, upstream } of pairs) {
        client.pause();
        upstream.pause();
      }
    },
    resume() {
      stalled = false;
      for (const { client, upstream } of pairs) {
        client.resume();
        upstream.resume();
      }
    },
    cut() {
      for (const { client, upstream } of pairs) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
    },
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
