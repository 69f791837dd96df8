import { rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pageFilesForEachTest } from '../../../test-support/page-files.js';
import type { RunningDashboard } from '../src/server.js';
import { start } from './helpers.js';

// The built page as the dashboard serves it (sirv, behind setSecurityHeaders' headers), from a
// folder of the test's own, with a file beside it that must never be reachable.
const files = pageFilesForEachTest(
  'sensor-dashboard-static-',
  '<!doctype html><script type="module" src="/app.js"></script>',
);
let app: RunningDashboard | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A raw request: fetch would normalise `..` away before it reaches the server. */
function raw(origin: string, path: string, method = 'GET') {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(`${origin}/`, { method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('sensor-dashboard: the page files', () => {
  it('serves the page and its files with the server CSP, an ETag and 304 on a match', async () => {
    app = await start({ assetsDir: files.publicDir });
    const page = await raw(app.url, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    const js = await fetch(`${app.url}/app.js`);
    expect(await js.text()).toBe('console.log(1);');
    expect(js.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    const etag = js.headers.get('etag') ?? '';
    expect(etag).not.toBe('');
    expect((await fetch(`${app.url}/app.js`, { headers: { 'If-None-Match': etag } })).status).toBe(304);
  });

  it('never serves a file outside the folder; other methods get 405; an unbuilt page says so', async () => {
    app = await start({ assetsDir: files.publicDir });
    for (const path of ['/../secret.txt', '/..%2fsecret.txt', '/%2e%2e/secret.txt']) {
      const res = await raw(app.url, path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('not for the web');
    }
    expect((await raw(app.url, '/app.js', 'POST')).status).toBe(405);
    rmSync(join(files.publicDir, 'app.css'), { force: true });
    expect((await raw(app.url, '/app.css')).body).toContain('pnpm --filter sensor-dashboard build');
  });
});
