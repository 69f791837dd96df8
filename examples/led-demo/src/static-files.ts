import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';

/** The page's files: a fixed list, so no request path ever reaches the file system. */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

export function isStaticPath(pathname: string): boolean {
  return Object.hasOwn(FILES, pathname);
}

/**
 * Serve one of the page's files. `index.html` gets the server's default
 * transport filled in, so `--transport ws` changes what a fresh page uses.
 */
export async function serveStatic(
  res: ServerResponse,
  publicDir: string,
  pathname: string,
  transport: 'sse' | 'ws',
): Promise<void> {
  const entry = FILES[pathname];
  if (!entry) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not Found');
    return;
  }
  let body: Buffer | string;
  try {
    body = await readFile(join(publicDir, entry.file));
  } catch {
    res
      .writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
      .end(`${entry.file} is missing: run "pnpm --filter led-demo build" first`);
    return;
  }
  if (entry.file === 'index.html') body = body.toString('utf8').replaceAll('__DEFAULT_TRANSPORT__', transport);
  res.writeHead(200, {
    'Content-Type': entry.type,
    'Cache-Control': 'no-cache',
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(body);
}
