import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pageFilesForEachTest } from '../../../test-support/page-files.js';
import { type Demo, startDemo } from '../src/server.js';

// The page's files as the demo serves them (sirv for the files, index.html by hand), from a
// folder of the test's own, with a file beside it that must never be reachable.
const files = pageFilesForEachTest('led-demo-static-', '<body data-default-transport="__DEFAULT_TRANSPORT__">');
let demo: Demo | undefined;

afterEach(async () => {
  await demo?.close();
  demo = undefined;
});

const start = async (transport: 'sse' | 'ws' = 'sse') => {
  demo = await startDemo({ port: 0, host: '127.0.0.1', log: false, publicDir: files.publicDir, transport });
  return `http://127.0.0.1:${demo.port}`;
};

/** A raw request: fetch would normalise `..` and `//` away before they reach the server. */
function raw(origin: string, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}/`, { method, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('led-demo: the page files', () => {
  it('fills the default transport into index.html under every spelling of its path', async () => {
    const origin = await start('ws');
    for (const path of ['/', '/index.html', '/index.html/', '//index.html', '/%69ndex.html']) {
      const res = await raw(origin, path);
      expect(res, path).toEqual({ status: 200, body: '<body data-default-transport="ws">' });
    }
    expect((await raw(origin, '/index')).status).toBe(404);
  });

  it('serves the files with an ETag, answers a matching If-None-Match with 304, HEAD without a body', async () => {
    const origin = await start();
    const res = await fetch(`${origin}/app.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await res.text()).toBe('console.log(1);');
    const etag = res.headers.get('etag');
    expect(etag).toBeTruthy();
    expect((await fetch(`${origin}/app.js`, { headers: { 'If-None-Match': etag ?? '' } })).status).toBe(304);
    expect(await raw(origin, '/app.js', 'HEAD')).toEqual({ status: 200, body: '' });
  });

  it('serves a file rebuilt while the demo runs whole, at its new length', async () => {
    const origin = await start();
    expect(await (await fetch(`${origin}/app.js`)).text()).toBe('console.log(1);');
    const rebuilt = `console.log(${'2'.repeat(5000)});`;
    writeFileSync(join(files.publicDir, 'app.js'), rebuilt);
    expect(await (await fetch(`${origin}/app.js`)).text()).toBe(rebuilt);
  });

  it('never serves a file outside the folder, and answers other methods with 405', async () => {
    const origin = await start();
    for (const path of ['/../secret.txt', '/..%2fsecret.txt', '/%2e%2e/secret.txt', '/public/../../secret.txt']) {
      const res = await raw(origin, path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('not for the web');
    }
    const missing = await raw(origin, '/nope.js');
    expect(JSON.parse(missing.body).error.code).toBe('not_found');
    expect((await raw(origin, '/app.js', 'POST')).status).toBe(405);
  });
});
