import { createServer, type OutgoingHttpHeaders, request, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SECURITY_HEADERS, DEFAULT_SERVER_TIMEOUTS, serverTimeouts, setSecurityHeaders } from '../src/index.js';
import { listen, type TestServer } from './helpers.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  body: string;
}

function get(url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body }),
      );
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

/** How often each header name came back (a duplicate CSP would be a second, looser policy). */
function count(raw: string[], name: string): number {
  return raw.filter((value, i) => i % 2 === 0 && value.toLowerCase() === name.toLowerCase()).length;
}

describe('setSecurityHeaders', () => {
  const loose = 'default-src *; frame-ancestors *';
  const cases: Record<string, (res: ServerResponse) => void> = {
    'no writeHead headers': (res) => res.end('ok'),
    'an object': (res) =>
      res
        .writeHead(200, {
          'content-security-policy': loose,
          'X-Frame-Options': 'SAMEORIGIN',
          'X-App': 'kept',
        } satisfies OutgoingHttpHeaders)
        .end('ok'),
    'a status message and an object': (res) =>
      res.writeHead(200, 'Fine', { 'Content-Security-Policy': loose, 'X-App': 'kept' }).end('ok'),
    'a flat raw array': (res) => res.writeHead(200, ['CONTENT-SECURITY-POLICY', loose, 'X-App', 'kept']).end('ok'),
  };

  for (const [name, handle] of Object.entries(cases)) {
    it(`keeps the server's headers against a handler's writeHead with ${name}`, async () => {
      server = await listen((_req, res) => {
        setSecurityHeaders(res);
        handle(res);
      });
      const answer = await get(server.url);
      expect(answer.status).toBe(200);
      expect(answer.body).toBe('ok');
      for (const [header, value] of Object.entries(DEFAULT_SECURITY_HEADERS)) {
        expect(answer.headers[header.toLowerCase()]).toBe(value);
        expect(count(answer.rawHeaders, header)).toBe(1);
      }
      expect(answer.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      if (name !== 'no writeHead headers') expect(answer.headers['x-app']).toBe('kept');
    });
  }

  it('sets a caller-given set instead, and setHeader after it still changes a header on purpose', async () => {
    server = await listen((req, res) => {
      setSecurityHeaders(res, { ...DEFAULT_SECURITY_HEADERS, 'Content-Security-Policy': "default-src 'none'" });
      if (req.url === '/embed') res.setHeader('X-Frame-Options', 'SAMEORIGIN');
      res.writeHead(200, { 'Content-Security-Policy': 'default-src *' }).end();
    });
    const page = await get(server.url);
    expect(page.headers['content-security-policy']).toBe("default-src 'none'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    const embed = await get(`${server.url}/embed`);
    expect(embed.headers['x-frame-options']).toBe('SAMEORIGIN');
  });

  it('refuses a header value that is not a string', () => {
    const res = { setHeader() {} } as unknown as ServerResponse;
    expect(() => setSecurityHeaders(res, { 'X-Bad': 1 as unknown as string })).toThrow(TypeError);
  });
});

describe('serverTimeouts', () => {
  it('fills in the defaults and lets each be overridden', () => {
    expect(serverTimeouts()).toEqual(DEFAULT_SERVER_TIMEOUTS);
    expect(serverTimeouts({ headersTimeout: 2000 })).toEqual({ ...DEFAULT_SERVER_TIMEOUTS, headersTimeout: 2000 });
  });

  it.each([
    [{ headersTimeout: 0 }],
    [{ requestTimeout: -1 }],
    [{ keepAliveTimeout: 1.5 }],
    [{ connectionsCheckingInterval: Number.NaN }],
    [{ headersTimeout: 40_000 }],
  ])('refuses %o with a RangeError', (bad) => {
    expect(() => serverTimeouts(bad)).toThrow(RangeError);
  });

  it('closes a connection that trickles its headers, and keeps serving others', async () => {
    server = await listen(
      createServer(
        serverTimeouts({ headersTimeout: 300, requestTimeout: 600, connectionsCheckingInterval: 100 }),
        (_req, res) => res.end('ok'),
      ),
    );
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // One more header line every 100 ms: with Node's default 60 s this would hold the socket for a minute.
    const trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 100);
    try {
      await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    } finally {
      clearInterval(trickle);
    }
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect((await get(server.url)).body).toBe('ok');
  });

  it('does not cut a streaming response that outlives requestTimeout', async () => {
    let sent = 0;
    server = await listen(
      createServer(
        serverTimeouts({ headersTimeout: 200, requestTimeout: 300, connectionsCheckingInterval: 100 }),
        (_req, res) => {
          res.writeHead(200, { 'Content-Type': 'text/event-stream' });
          const tick = setInterval(() => {
            res.write(`data: ${++sent}\n\n`);
            if (sent === 12) {
              clearInterval(tick);
              res.end();
            }
          }, 100);
          res.on('close', () => clearInterval(tick));
        },
      ),
    );
    // 12 frames 100 ms apart: the stream lasts about four requestTimeouts and must arrive whole.
    const answer = await get(server.url);
    expect(answer.body.match(/^data: /gm)?.length).toBe(12);
  });
});
