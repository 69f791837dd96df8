/**
 * A page built the way its users build it — with Vite — from the
 * workspace's sources, and served beside a real boardcast server (sse-server
 * and ws-server on 127.0.0.1), for the browser tests of the UI bindings.
 */
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ContractSpec, Hub } from '@boardcast/core';
import { type BoardcastHttp, boardcastHttp } from '@boardcast/sse-server';
import { createWsEndpoint, type WsEndpoint } from '@boardcast/ws-server';

const packages = fileURLToPath(new URL('../packages/', import.meta.url));

/**
 * Build the Vite app whose `index.html` is in `root` into a temporary
 * directory; `@boardcast/<pkg>[/<entry>]` resolves to that package's source,
 * as the exports map names it. Returns URL path → file contents.
 */
export async function buildVitePage(root: string, plugins: unknown[] = []): Promise<Map<string, Buffer>> {
  const { build } = await import('vite');
  const outDir = mkdtempSync(join(tmpdir(), 'boardcast-vite-'));
  try {
    await build({
      root,
      configFile: false,
      logLevel: 'silent',
      plugins: [
        {
          name: 'boardcast-sources',
          enforce: 'pre',
          resolveId(source: string) {
            const match = /^@boardcast\/([^/]+)(?:\/([^/]+))?$/.exec(source);
            return match ? `${packages}${match[1]}/src/${match[2] ?? 'index'}.ts` : null;
          },
        },
        ...(plugins as never[]),
      ],
      build: { outDir, emptyOutDir: true, minify: false, sourcemap: false },
    });
    const files = new Map<string, Buffer>();
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else files.set(`/${relative(outDir, path)}`, readFileSync(path));
      }
    };
    walk(outDir);
    return files;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export interface PageServer {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly port: number;
  readonly server: Server;
  readonly api: BoardcastHttp;
  readonly ws: WsEndpoint;
  /** Open event streams plus open sockets: what "no connection left" is measured by. */
  connections(): number;
  /** Event streams and sockets opened so far. */
  opened(): number;
  close(): Promise<void>;
}

/** Serve `files` at `/` and the hub at `/api` (SSE, commands) and `/api/ws`. */
export async function servePage<C extends ContractSpec>(
  hub: Hub<C>,
  files: ReadonlyMap<string, Buffer>,
  options: { host?: string; allowedHosts?: string[] } = {},
): Promise<PageServer> {
  const api = boardcastHttp(hub, { base: '/api', allowedHosts: options.allowedHosts, sse: { retry: 200 } });
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (api.matches(path)) return api.node(req, res);
    const file = files.get(path === '/' ? '/index.html' : path);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? TYPES['.html'] ?? '' }).end(file);
  });
  const ws = createWsEndpoint(hub, { server, path: '/api/ws', allowedHosts: options.allowedHosts });
  let opened = 0;
  api.sse.on('connect', () => opened++);
  ws.on('connect', () => opened++);
  server.listen(0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    server,
    api,
    ws,
    connections: () => api.sse.clientCount + ws.clientCount,
    opened: () => opened,
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      await api.close();
      await ws.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
