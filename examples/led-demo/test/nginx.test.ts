/**
 * The LED demo behind a real nginx (Debian's), configured with the recipe
 * printed in sse-server's README (read from there, so the README cannot
 * drift from what is tested): TLS and HTTP/2 at the proxy, the demo on
 * 127.0.0.1 with `trustProxy: ['127.0.0.1']`. Viewers connect from
 * 127.0.0.2… (other clients as far as nginx can tell), so X-Forwarded-For
 * carries real, different addresses.
 *
 * Before trustProxy every viewer was the proxy: the 51st got 503
 * too_many_clients (the demo allows 50 streams per address), and a command
 * from the page's https origin was 403 forbidden_origin.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { fileURLToPath } from 'node:url';
import { WS_PROTOCOL } from '@boardcast/core/wire';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Nginx, selfSignedCertificate, startNginx } from '../../../test-support/nginx.js';
import { nginxPath } from '../../../test-support/system.js';
import { type Demo, startDemo } from '../src/server.js';
import { waitFor } from './helpers.js';

const README = fileURLToPath(new URL('../../../packages/sse-server/README.md', import.meta.url));

/** The README's nginx block with this test's port, upstream and certificate put in (each must be found). */
function recipe(port: number, dir: string, upstream: number): string {
  const text = readFileSync(README, 'utf8');
  const marker = text.indexOf('<!-- nginx recipe');
  const start = text.indexOf('```nginx\n', marker);
  const end = text.indexOf('\n```', start + 1);
  if (marker < 0 || start < 0 || end < 0) throw new Error('no nginx recipe block in sse-server README');
  const { cert, key } = selfSignedCertificate(dir);
  let block = text.slice(start + '```nginx\n'.length, end);
  const replace = (pattern: RegExp, by: string) => {
    if (!pattern.test(block)) throw new Error(`the README's nginx recipe no longer has ${pattern}`);
    block = block.replace(pattern, by);
  };
  replace(/listen 443 ssl http2;/, `listen 127.0.0.1:${port} ssl http2;`);
  replace(/ssl_certificate +\S+;/, `ssl_certificate ${cert};`);
  replace(/ssl_certificate_key +\S+;/, `ssl_certificate_key ${key};`);
  replace(/proxy_pass http:\/\/127\.0\.0\.1:8080;/, `proxy_pass http://127.0.0.1:${upstream};`);
  return block;
}

interface Viewer {
  readonly status: number;
  readonly events: string[];
  readonly res: IncomingMessage;
}

const viewers: Viewer[] = [];
function closeViewers() {
  for (const viewer of viewers.splice(0)) viewer.res.destroy();
}

/** An SSE viewer on `url` from `localAddress`; https through nginx, http straight to the demo. */
function view(url: string, localAddress: string, headers: Record<string, string> = {}): Promise<Viewer> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    request(url, { localAddress, headers, agent: false, rejectUnauthorized: false }, (res) => {
      const viewer: Viewer = { status: res.statusCode ?? 0, events: [], res };
      viewers.push(viewer);
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
          const name = /^event: (.+)$/m.exec(buffer.slice(0, cut))?.[1];
          if (name) viewer.events.push(name);
          buffer = buffer.slice(cut + 2);
        }
      });
      res.on('error', () => undefined);
      resolve(viewer);
    })
      .on('error', reject)
      .end();
  });
}

function command(url: string, origin: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: 'POST',
        rejectUnauthorized: false,
        agent: false,
        localAddress: '127.0.0.2',
        headers: { 'Content-Type': 'application/json', Origin: origin },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end('{"state":"toggle"}');
  });
}

/** `count` viewers spread over `addresses` client addresses (127.0.0.<first>…), opened 20 at a time. */
async function crowd(url: string, count: number, addresses: number, first = 2): Promise<Viewer[]> {
  const opened: Viewer[] = [];
  for (let i = 0; i < count; i += 20) {
    const batch = Array.from({ length: Math.min(20, count - i) }, (_, j) =>
      view(url, `127.0.0.${first + ((i + j) % addresses)}`),
    );
    opened.push(...(await Promise.all(batch)));
  }
  return opened;
}

describe.skipIf(!nginxPath)('the LED demo behind nginx (the README recipe)', () => {
  let demo: Demo;
  let nginx: Nginx;
  let base: string;

  beforeAll(async () => {
    demo = await startDemo({ port: 0, host: '127.0.0.1', log: false, trustProxy: ['127.0.0.1'] });
    nginx = await startNginx((port, dir) => recipe(port, dir, demo.port));
    base = `https://127.0.0.1:${nginx.port}`;
  }, 60_000);
  afterAll(async () => {
    closeViewers();
    await nginx?.stop();
    await demo?.close();
  });
  afterEach(closeViewers);

  it('serves 200 viewers through the proxy (before: 50), and an event reaches all of them', async () => {
    const crowdOf200 = await crowd(`${base}/api/events`, 200, 10);
    expect(crowdOf200.filter((v) => v.status === 200)).toHaveLength(200);
    await waitFor(() => crowdOf200.every((v) => v.events.includes('snapshot')), 'a snapshot on every stream', 30_000);
    // A command from the page's own origin (https, the proxy's host:port) is accepted…
    const toggled = await command(`${base}/api/commands/led`, base);
    expect(toggled.status).toBe(200);
    // …and its event is streamed through the proxy at once (proxy_buffering off) to every viewer.
    await waitFor(() => crowdOf200.every((v) => v.events.includes('led')), 'the led event on every stream', 30_000);
    expect(nginx.errors()).not.toMatch(/\[(error|crit|alert|emerg)\]/);
  }, 120_000);

  it('still caps one client: its 51st stream through the proxy is refused, even with a spoofed X-Forwarded-For', async () => {
    const own = await Promise.all(
      Array.from({ length: 51 }, (_, i) =>
        view(`${base}/api/events`, '127.0.0.30', { 'X-Forwarded-For': `6.6.6.${i}` }),
      ),
    );
    expect(own.filter((v) => v.status === 200)).toHaveLength(50);
    expect(own.filter((v) => v.status === 503)).toHaveLength(1);
  }, 60_000);

  it('ignores X-Forwarded-For from a peer that is not the proxy', async () => {
    const direct = `http://127.0.0.1:${demo.port}/api/events`;
    const spoofed = await Promise.all(
      Array.from({ length: 51 }, (_, i) => view(direct, '127.0.0.31', { 'X-Forwarded-For': `198.51.100.${i}` })),
    );
    expect(spoofed.filter((v) => v.status === 200)).toHaveLength(50);
    expect(spoofed.filter((v) => v.status === 503)).toHaveLength(1);
  }, 60_000);

  it('carries the WebSocket through the documented config (Upgrade/Connection passed on)', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${nginx.port}/api/ws`, WS_PROTOCOL, {
      rejectUnauthorized: false,
      headers: { Origin: base },
      localAddress: '127.0.0.40',
    });
    const frames: Array<Record<string, unknown>> = [];
    ws.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      await waitFor(() => frames.some((f) => f.type === 'snapshot'), 'the snapshot over the proxied WebSocket');
      ws.send(JSON.stringify({ type: 'command', id: 1, command: 'led', data: { state: 'toggle' } }));
      const result = await waitFor(() => frames.find((f) => f.type === 'result' && f.id === 1), 'the command result');
      expect(result.ok).toBe(true);
    } finally {
      ws.terminate();
    }
  }, 60_000);
});

describe.skipIf(!nginxPath)('the same proxy without trustProxy (how it was)', () => {
  let demo: Demo;
  let nginx: Nginx;

  beforeAll(async () => {
    demo = await startDemo({ port: 0, host: '127.0.0.1', log: false });
    nginx = await startNginx((port, dir) => recipe(port, dir, demo.port));
  }, 60_000);
  afterAll(async () => {
    closeViewers();
    await nginx?.stop();
    await demo?.close();
  });

  it('serves 50 of 200 viewers (all are the proxy) and refuses the page origin', async () => {
    const base = `https://127.0.0.1:${nginx.port}`;
    const all = await crowd(`${base}/api/events`, 200, 10);
    expect(all.filter((v) => v.status === 200)).toHaveLength(50);
    expect(all.filter((v) => v.status === 503)).toHaveLength(150);
    closeViewers();
    const refused = await command(`${base}/api/commands/led`, base);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).error.code).toBe('forbidden_origin');
  }, 120_000);
});
