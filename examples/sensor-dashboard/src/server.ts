import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Hub } from '@boardcast/core';
import { boardcastHttp } from '@boardcast/sse-server';
import { createWsEndpoint } from '@boardcast/ws-server';
import type { dashboard } from './contract.js';
import { createDashboardHub, type DashboardHubOptions } from './dashboard-hub.js';
import { createIngestHandler } from './ingest.js';
import { createStaticHandler } from './static-files.js';

export interface DashboardOptions extends DashboardHubOptions {
  /** Port to listen on; 0 picks a free one (default 3001, beside the LED demo on 3000). */
  readonly port?: number;
  /** Interface to listen on (default `127.0.0.1`; use `0.0.0.0` so a real board on the LAN can reach it). */
  readonly host?: string;
  /** Bearer token devices must send to `POST /api/readings`; unset = open ingest. */
  readonly token?: string | undefined;
  /** Largest ingest body in bytes (default 65536). */
  readonly maxBodyBytes?: number;
  /** Directory holding the built page (`index.html`, `app.js`, `app.css`). */
  readonly assetsDir: string;
}

export interface RunningDashboard {
  /** `http://host:port` of the page. */
  readonly url: string;
  readonly port: number;
  readonly hub: Hub<typeof dashboard>;
  readonly server: Server;
  close(): Promise<void>;
}

const API = '/api';

/**
 * One HTTP server for everything: the page, `GET /api/events` (SSE),
 * `POST /api/commands/<name>`, the `/api/ws` WebSocket and the device
 * ingest route `POST /api/readings`.
 */
export async function startDashboard(options: DashboardOptions): Promise<RunningDashboard> {
  const dashboardHub = createDashboardHub(options);
  const { hub } = dashboardHub;
  const api = boardcastHttp(hub, { base: API });
  const ingest = createIngestHandler(dashboardHub, {
    token: options.token,
    maxBodyBytes: options.maxBodyBytes ?? 65_536,
  });
  const assets = createStaticHandler(options.assetsDir);

  const server = createServer((req, res) => {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      pathname = '/';
    }
    if (pathname === `${API}/readings`) ingest(req, res);
    else if (api.matches(pathname)) api.node(req, res);
    else assets(req, res, pathname);
  });
  const ws = createWsEndpoint(hub, { server, path: `${API}/ws` });
  hub.on('error', (error, where) => console.error(`[sensor-dashboard] ${where}:`, error));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3001, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : 'localhost';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      api.close();
      await ws.close();
      await hub.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    })();
    return closing;
  };
  return { url, port, hub, server, close };
}
