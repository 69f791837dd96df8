import { describe, expect, it } from 'vitest';
import { formatIp, inRange, parseIp, parseIpRanges } from '../src/ip.js';
import { checkRequest, createProxyTrust, isOriginAllowed, resolvePolicy, withClient } from '../src/server.js';
import { peer, policyRequest } from './fixtures.js';

describe('ip', () => {
  it('parses the forms sockets and proxies write, and maps IPv4-in-IPv6 to IPv4', () => {
    expect(formatIp(parseIp('10.0.0.1')!)).toBe('10.0.0.1');
    expect(formatIp(parseIp('::ffff:10.0.0.1')!)).toBe('10.0.0.1');
    expect(formatIp(parseIp('[::1]')!)).toBe('::1');
    expect(formatIp(parseIp('fe80::1%eth0')!)).toBe('fe80::1');
    expect(formatIp(parseIp('2001:DB8:0:0:0:0:0:1')!)).toBe('2001:db8::1');
    expect(formatIp(parseIp('64:ff9b::192.0.2.33')!)).toBe('64:ff9b::c000:221');
    for (const bad of [
      '',
      'localhost',
      '1.2.3',
      '1.2.3.256',
      '01.2.3.4',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      'unknown',
      '1.2.3.4:80',
    ]) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });

  it('matches CIDR ranges and the named ranges', () => {
    const ten = parseIpRanges('10.0.0.0/8')[0]!;
    expect(inRange(parseIp('10.255.1.2')!, ten)).toBe(true);
    expect(inRange(parseIp('11.0.0.1')!, ten)).toBe(false);
    expect(inRange(parseIp('::ffff:10.1.1.1')!, ten)).toBe(true);
    const six = parseIpRanges('fd00::/8')[0]!;
    expect(inRange(parseIp('fd12::1')!, six)).toBe(true);
    expect(inRange(parseIp('fe80::1')!, six)).toBe(false);
    expect(parseIpRanges('loopback')).toHaveLength(2);
    expect(() => parseIpRanges('10.0.0.0/33')).toThrow(TypeError);
    expect(() => parseIpRanges('proxy.lan')).toThrow(/trustProxy entry "proxy.lan"/);
  });
});

describe('trustProxy', () => {
  it('off by default: forwarding headers are ignored, the peer is the client', () => {
    const trust = createProxyTrust(undefined);
    const client = trust.resolve(
      peer('::ffff:192.0.2.7'),
      (name) =>
        ({
          host: 'device:8080',
          'x-forwarded-for': '1.2.3.4',
          'x-forwarded-host': 'evil',
          'x-forwarded-proto': 'https',
        })[name],
    );
    expect(client).toEqual({ clientAddress: '192.0.2.7', host: 'device:8080', protocol: 'http', forwarded: false });
  });

  it('an untrusted peer cannot spoof: its X-Forwarded-* are ignored', () => {
    const trust = createProxyTrust(['127.0.0.1']);
    const client = trust.resolve(peer('192.0.2.7'), (name) => ({ 'x-forwarded-for': '10.9.9.9' })[name]);
    expect(client.clientAddress).toBe('192.0.2.7');
    expect(client.forwarded).toBe(false);
  });

  it('a trusted peer: the right-most untrusted X-Forwarded-For entry, host and scheme from X-Forwarded-Host/-Proto', () => {
    const trust = createProxyTrust(['127.0.0.1', '10.0.0.0/8']);
    const headers: Record<string, string> = {
      host: '127.0.0.1:8080',
      // what the client wrote, the client as the edge proxy saw it, the edge proxy as the inner one saw it
      'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.0.0.2',
      'x-forwarded-host': 'panel.example.com',
      'x-forwarded-proto': 'https',
    };
    const client = trust.resolve(peer('::ffff:127.0.0.1'), (name) => headers[name]);
    expect(client).toEqual({
      clientAddress: '203.0.113.9',
      host: 'panel.example.com',
      protocol: 'https',
      forwarded: true,
    });
    // All hops trusted: the left-most.
    const inside = trust.resolve(peer('127.0.0.1'), (name) => ({ 'x-forwarded-for': '10.1.1.1, 10.0.0.2' })[name]);
    expect(inside.clientAddress).toBe('10.1.1.1');
    // Ports and brackets as some proxies write them.
    const ported = trust.resolve(peer('127.0.0.1'), (name) => ({ 'x-forwarded-for': '[2001:db8::5]:4711' })[name]);
    expect(ported.clientAddress).toBe('2001:db8::5');
    // No header: the proxy itself (a health check).
    expect(trust.resolve(peer('127.0.0.1'), () => undefined).clientAddress).toBe('127.0.0.1');
  });

  it('reads Forwarded (RFC 7239) only when told to, and then ignores X-Forwarded-*', () => {
    const headers: Record<string, string> = {
      forwarded: 'for=6.6.6.6;host=evil, for="[2001:db8:cafe::17]:4711";proto=https;host="panel.example.com"',
      'x-forwarded-for': '7.7.7.7',
    };
    const rfc = createProxyTrust({ addresses: ['loopback'], headers: 'forwarded' });
    expect(rfc.resolve(peer('127.0.0.1'), (name) => headers[name])).toEqual({
      clientAddress: '2001:db8:cafe::17',
      host: 'panel.example.com',
      protocol: 'https',
      forwarded: true,
    });
    const x = createProxyTrust({ addresses: ['loopback'] });
    expect(x.resolve(peer('127.0.0.1'), (name) => headers[name]).clientAddress).toBe('7.7.7.7');
  });

  it('a predicate decides on the normalized address', () => {
    const seen: string[] = [];
    const trust = createProxyTrust((address) => {
      seen.push(address);
      return address === '10.0.0.1';
    });
    expect(
      trust.resolve(peer('::ffff:10.0.0.1'), (n) => ({ 'x-forwarded-for': '198.51.100.1' })[n]).clientAddress,
    ).toBe('198.51.100.1');
    expect(seen).toEqual(['10.0.0.1', '198.51.100.1']);
  });

  it('refuses a bad trustProxy at construction, naming the entry', () => {
    expect(() => resolvePolicy('@boardcast/x', { trustProxy: ['10.0.0.0/40'] })).toThrow(/10\.0\.0\.0\/40/);
    expect(() => resolvePolicy('@boardcast/x', { trustProxy: { addresses: [], headers: 'via' as never } })).toThrow(
      TypeError,
    );
  });

  it('the Host and same-host Origin checks use the public host and scheme the trusted proxy reports', () => {
    const policy = resolvePolicy('@boardcast/x', { trustProxy: ['loopback'], allowedHosts: ['panel.example.com'] });
    const viaProxy = policyRequest({
      host: '127.0.0.1:8080',
      origin: 'https://panel.example.com',
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-host': 'panel.example.com',
      'x-forwarded-proto': 'https',
    });
    expect(checkRequest(policy, withClient(viaProxy, policy.proxy, peer('127.0.0.1')))).toBeUndefined();
    // The same headers from a peer that is not a proxy: Host 127.0.0.1:8080, http → the https origin is refused.
    expect(checkRequest(policy, withClient(viaProxy, policy.proxy, peer('192.0.2.7')))?.code).toBe('forbidden_origin');
    // A trusted proxy naming a host nobody allowed: 403 forbidden_host (DNS rebinding through the proxy).
    const rebound = policyRequest({
      host: '127.0.0.1:8080',
      'x-forwarded-host': 'rebind.example',
      'x-forwarded-proto': 'http',
    });
    expect(checkRequest(policy, withClient(rebound, policy.proxy, peer('127.0.0.1')))?.code).toBe('forbidden_host');
  });
});

describe('Origin strictness (issue 27)', () => {
  const direct = (origin: string) =>
    withClient(policyRequest({ host: '127.0.0.1:8080', origin }), createProxyTrust(undefined), peer('127.0.0.1'));

  it('an https:// page is not same-host with an http server on the same host and port', () => {
    expect(isOriginAllowed('same-host', 'http://127.0.0.1:8080', direct('http://127.0.0.1:8080'))).toBe(true);
    expect(isOriginAllowed('same-host', 'https://127.0.0.1:8080', direct('https://127.0.0.1:8080'))).toBe(false);
    // …and over TLS, the reverse.
    const tls = withClient(policyRequest({ host: 'device:8443' }), createProxyTrust(undefined), peer('10.0.0.5', true));
    expect(isOriginAllowed('same-host', 'https://device:8443', tls)).toBe(true);
    expect(isOriginAllowed('same-host', 'http://device:8443', tls)).toBe(false);
  });

  it('an Origin with a path, query, fragment or credentials is not an origin', () => {
    for (const origin of [
      'http://127.0.0.1:8080/',
      'http://127.0.0.1:8080/page',
      'http://127.0.0.1:8080?x',
      'http://127.0.0.1:8080#x',
      'http://user@127.0.0.1:8080',
    ]) {
      expect(isOriginAllowed('same-host', origin, direct(origin)), origin).toBe(false);
      expect(isOriginAllowed(['http://127.0.0.1:8080'], origin, direct(origin)), origin).toBe(false);
      expect(
        isOriginAllowed(() => true, origin, direct(origin)),
        origin,
      ).toBe(false);
    }
  });
});
