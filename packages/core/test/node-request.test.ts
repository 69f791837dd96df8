import { describe, expect, it } from 'vitest';
import type { BoardcastRequest } from '../src/index.js';
import {
  createProxyTrust,
  fromFetchRequest,
  fromNodeRequest,
  type NodeRequestLike,
  nodeRequestUrl,
} from '../src/server.js';

const nodeRequest = (fields: Partial<NodeRequestLike> = {}): NodeRequestLike => ({
  method: 'GET',
  url: '/events?x=1',
  headers: { host: 'device.local:3000' },
  socket: { remoteAddress: '10.0.0.5' },
  ...fields,
});

/**
 * What both adapters read of a POST from 10.0.0.5 with an Accept header: the
 * request's fields, its headers in any case (Origin, never sent, is missing)
 * and its host.
 */
function expectPostRead(
  request: BoardcastRequest,
  raw: unknown,
  expected: { protocol: 'http' | 'https'; accept: string; host: string },
): void {
  expect(request).toMatchObject({ raw, method: 'POST', clientAddress: '10.0.0.5', protocol: expected.protocol });
  expect([request.header('Accept'), request.header('HOST'), request.header('origin')]).toEqual([
    expected.accept,
    expected.host,
    undefined,
  ]);
  expect(request.host).toBe(expected.host);
}

describe('fromNodeRequest', () => {
  it('reads method, path, headers (any case, repeated ones joined) and the peer', () => {
    const raw = nodeRequest({ method: 'POST', headers: { host: 'device.local:3000', accept: ['a/b', 'c/d'] } });
    const request = fromNodeRequest(raw);
    expectPostRead(request, raw, { protocol: 'http', accept: 'a/b, c/d', host: 'device.local:3000' });
    expect(request.url.href).toBe('http://localhost/events?x=1');
  });

  it("reads only the request's own headers: names Object.prototype has are no headers", () => {
    // Node's IncomingMessage#headers inherits from Object.prototype.
    const request = fromNodeRequest(nodeRequest({ headers: { host: 'device.local:3000' } }));
    expect(['constructor', 'toString', '__proto__', 'hasOwnProperty'].map((name) => request.header(name))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('a request without method or url is GET /', () => {
    const request = fromNodeRequest(nodeRequest({ method: undefined, url: undefined }));
    expect(request.method).toBe('GET');
    expect(request.url.pathname).toBe('/');
  });

  it("takes Express's originalUrl over the mount-stripped url; a path no URL can hold reads as /", () => {
    expect(fromNodeRequest(nodeRequest({ url: '/events', originalUrl: '/api/events' })).url.pathname).toBe(
      '/api/events',
    );
    expect(fromNodeRequest(nodeRequest({ url: '//[bad' })).url.href).toBe('http://localhost/');
  });

  it('nodeRequestUrl is the URL fromNodeRequest reads, without the rest of the request', () => {
    expect(nodeRequestUrl({ url: '/events?x=1' }).href).toBe('http://localhost/events?x=1');
    expect(nodeRequestUrl({ url: '/events', originalUrl: '/api/events' }).pathname).toBe('/api/events');
    expect(nodeRequestUrl({}).href).toBe('http://localhost/');
    expect(nodeRequestUrl({ url: '//[bad' }).href).toBe('http://localhost/');
    const raw = nodeRequest({ url: '/a/b?c=d', originalUrl: '/x/a/b?c=d' });
    expect(nodeRequestUrl(raw).href).toBe(fromNodeRequest(raw).url.href);
  });

  it('uses the url it is given (an upgrade already parsed) instead of reading the request again', () => {
    const url = new URL('http://localhost/ws?channels=a');
    expect(fromNodeRequest(nodeRequest({ url: '/other' }), undefined, url).url).toBe(url);
  });

  it('HTTP/2: the host is the :authority pseudo-header when no host header came', () => {
    const request = fromNodeRequest(nodeRequest({ headers: { ':authority': 'device.local:8443' } }));
    expect(request.header('host')).toBe('device.local:8443');
    expect(request.host).toBe('device.local:8443');
    // Only the host falls back: another missing header stays missing.
    expect(request.header('origin')).toBeUndefined();
  });

  it('TLS on the socket is https; a trusted proxy names the client, host and scheme', () => {
    expect(fromNodeRequest(nodeRequest({ socket: { remoteAddress: '10.0.0.5', encrypted: true } })).protocol).toBe(
      'https',
    );
    const behind = nodeRequest({
      headers: {
        host: 'internal:3000',
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-host': 'panel.example',
        'x-forwarded-proto': 'https',
      },
      socket: { remoteAddress: '127.0.0.1' },
    });
    expect(fromNodeRequest(behind, createProxyTrust(['loopback']))).toMatchObject({
      clientAddress: '203.0.113.7',
      host: 'panel.example',
      protocol: 'https',
    });
    // Without trustProxy the forwarding headers are ignored: the peer is the client.
    expect(fromNodeRequest(behind)).toMatchObject({ clientAddress: '127.0.0.1', host: 'internal:3000' });
  });

  it('a request with no socket (a mock, a destroyed request) has no client address', () => {
    expect(fromNodeRequest(nodeRequest({ socket: null })).clientAddress).toBeUndefined();
  });
});

describe('fromFetchRequest', () => {
  it('reads the request; the host falls back to the URL (HTTP/2 and 3 send none), the scheme is the URL’s', () => {
    const raw = new Request('https://device.local:8443/events?x=1', { method: 'POST', headers: { accept: 'a/b' } });
    const request = fromFetchRequest(raw, undefined, '10.0.0.5');
    // No host header came: the host is the URL's.
    expectPostRead(request, raw, { protocol: 'https', accept: 'a/b', host: 'device.local:8443' });
    expect(request.url.pathname).toBe('/events');
  });

  it('without the adapter’s remoteAddress the client address is unknown; an http: URL is plain http', () => {
    const request = fromFetchRequest(new Request('http://device.local/'));
    expect(request.clientAddress).toBeUndefined();
    // The scheme decides Secure cookies and same-host origins: http stays http.
    expect(request.protocol).toBe('http');
  });
});
