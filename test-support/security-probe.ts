import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';

/**
 * A page on another origin (another port on 127.0.0.1) that frames `target`
 * (nearly transparent, as a clickjacking page would) beside a frame of its
 * own, so a test shows framing works in general and is refused for the
 * target only. Frames: `victim` and `own` (`#own` inside). Close `server`.
 */
export async function startFramingPage(
  target: string,
  size: { width: number; height: number } = { width: 800, height: 600 },
): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    if (req.url === '/own') res.end('<!doctype html><p id="own">own frame</p>');
    else
      res.end(
        `<!doctype html><iframe name="victim" src="${target}" style="opacity:0.01" width="${size.width}" height="${size.height}"></iframe>` +
          '<iframe name="own" src="/own"></iframe>',
      );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

/**
 * A new page (from a context, or anything that opens one: `{ newPage: () => browser.newPage(options) }`)
 * whose CSP violations, page errors and console errors collect in `problems` (a CSP that breaks the page shows up here).
 */
export async function watchPage(context: Pick<BrowserContext, 'newPage'>): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  const problems: string[] = [];
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP ${e.violatedDirective}`));
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  return { page, problems };
}

export interface RawStream {
  readonly status: number;
  /** Everything received so far. */
  text(): string;
  /** True once the server (or `destroy`) closed the response. */
  closed(): boolean;
  destroy(): void;
}

/** A raw SSE request (`Accept: text/event-stream`) that stays open; resolves at the response head. */
export function openRawStream(url: string, headers: Record<string, string> = {}): Promise<RawStream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      let body = '';
      let ended = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('close', () => {
        ended = true;
      });
      resolve({ status: res.statusCode ?? 0, text: () => body, closed: () => ended, destroy: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}
