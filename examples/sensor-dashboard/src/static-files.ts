import type { IncomingMessage, ServerResponse } from 'node:http';
import sirv from 'sirv';

/** What `pnpm --filter sensor-dashboard build` writes: a 404 for one of these names means it has not run. */
const BUILT = new Set(['/', '/index.html', '/app.js', '/app.css']);

/**
 * The dashboard's built page (`dir`: index.html, app.js, app.css, app.js.map), served by `sirv`.
 *
 * - `dev: true`: each request looks its file up in `dir` (a path that leaves `dir` is never
 *   served), so a page rebuilt while the server runs is served whole, and `dir` is not walked at
 *   start (sirv's default caches every file's size then; the tests point `dir` at the OS temp dir).
 * - `etag: true`: `ETag` + `Cache-Control: no-cache`, so a browser revalidates and gets a 304.
 * - The security headers (CSP, nosniff, …) are `setSecurityHeaders`' (@boardcast/sse-server), set
 *   on every response before this runs; sirv sets only Content-Type/Length, ETag, Last-Modified
 *   and Cache-Control, and setSecurityHeaders keeps its own headers whatever a handler passes.
 * - GET and HEAD only (sirv would answer any method with the file).
 */
export function createStaticHandler(dir: string) {
  const files = sirv(dir, {
    dev: true,
    etag: true,
    onNoMatch(req, res) {
      const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(BUILT.has(pathname) ? 'Not Found: run "pnpm --filter sensor-dashboard build"' : 'Not Found');
    },
  });
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Method Not Allowed');
      return;
    }
    files(req, res);
  };
}
