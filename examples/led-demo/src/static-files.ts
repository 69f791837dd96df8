import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, posix } from 'node:path';
import sirv from 'sirv';
import { sendJson } from './http-util.js';

/** Every path outside the API is the page's: its files, or a 404. */
export function isStaticPath(pathname: string): boolean {
  return pathname !== '/api' && !pathname.startsWith('/api/');
}

/** `/`, `/index.html` and the spellings sirv would map to the same file (`/index.html/`, `//index.html`, `%69ndex.html`). */
function isPage(pathname: string): boolean {
  let decoded = pathname;
  try {
    decoded = decodeURI(pathname);
  } catch {}
  const path = posix.normalize(decoded).replace(/\/+$/, '');
  return path === '' || path === '/index.html';
}

/**
 * The page's files from `publicDir` (app.js, style.css, favicon.svg, …), served by `sirv`, GET and
 * HEAD only. `index.html` alone is served by hand: it gets the server's default transport filled
 * in (`__DEFAULT_TRANSPORT__`), so `--transport ws` changes what a fresh page uses — a per-request
 * rewrite no static-file library does.
 *
 * sirv runs with `dev: true` (each request looks its file up, so a page rebuilt while the demo runs
 * is served whole; a path that leaves `publicDir` is never served) and `etag: true` (`ETag` +
 * `Cache-Control: no-cache`). The security headers are the server's (`setSecurityHeaders` from @boardcast/sse-server), set
 * before this runs and kept whatever a handler passes to `writeHead`; sirv sets none of them.
 */
export function createStaticFiles(publicDir: string, transport: 'sse' | 'ws') {
  const files = sirv(publicDir, {
    dev: true,
    etag: true,
    extensions: [], // `/index` is not the page
    onNoMatch(req, res) {
      const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
      sendJson(res, 404, { error: { code: 'not_found', message: `no route for ${pathname}` } });
    },
  });
  return async (req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> => {
    if (!isPage(pathname)) return files(req, res);
    let body: string;
    try {
      body = await readFile(join(publicDir, 'index.html'), 'utf8');
    } catch {
      res
        .writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
        .end('index.html is missing: run "pnpm --filter led-demo build" first');
      return;
    }
    body = body.replaceAll('__DEFAULT_TRANSPORT__', transport);
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-cache',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
