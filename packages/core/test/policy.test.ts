// The endpoint policy: the Host check and host names, the Origin rules,
// trustProxy's header forms and refusals, resolvePolicy's defaults and
// bounds, the per-address counter.
import { describe, expect, it } from 'vitest';
import { BoardcastError } from '../src/index.js';
import {
  AddressCounter,
  checkHost,
  checkRequest,
  createHostCheck,
  createProxyTrust,
  isIpLiteral,
  isOriginAllowed,
  normalizeHost,
  normalizeOrigin,
  resolvePolicy,
  withClient,
} from '../src/server.js';
import { heapAfterGc, peer, policyRequest } from './fixtures.js';

describe('Host check', () => {
  it('normalizes like a browser: case, port, trailing dot, numeric IPv4 forms, IPv6 brackets', () => {
    expect(normalizeHost('Panel.LAN:8080')).toBe('panel.lan');
    expect(normalizeHost('panel.lan.')).toBe('panel.lan');
    expect(normalizeHost('2130706433')).toBe('127.0.0.1');
    expect(normalizeHost('0x7f.1:80')).toBe('127.0.0.1');
    expect(normalizeHost('[::1]:3000')).toBe('[::1]');
    expect(normalizeHost('a b')).toBeUndefined();
    expect(normalizeHost('evil.example/x')).toBeUndefined();
    expect(normalizeHost('user@evil.example')).toBeUndefined();
    expect(normalizeHost('')).toBeUndefined();
  });

  it('accepts IP literals, localhost, the machine name and <name>.local by default, nothing else', () => {
    const check = createHostCheck(undefined, {
      hostname: 'raspberrypi',
      interfaces: {
        eth0: [
          { address: '192.168.1.20', family: 'IPv4' },
          { address: 'fe80::1%eth0', family: 'IPv6' },
        ],
      },
    });
    for (const host of [
      '127.0.0.1:8080',
      '10.0.0.7',
      '[::1]:80',
      'localhost:3000',
      'app.localhost',
      'raspberrypi',
      'RaspberryPi.local:80',
    ]) {
      expect(check.allows(host), host).toBe(true);
    }
    for (const host of [
      'rebind.example:8080',
      'raspberrypi.evil',
      'localhost.evil.com',
      'local',
      'pi.lan',
      'bad host',
    ]) {
      expect(check.allows(host), host).toBe(false);
    }
    // Non-browser clients on HTTP/1.0 may send no Host at all.
    expect(check.allows(undefined)).toBe(true);
    expect(check.names).toContain('raspberrypi.local');
    expect(check.names).toContain('[fe80::1]');
  });

  it('adds configured names: exact, ".domain" / "*.domain" for a domain and its subdomains, or a predicate', () => {
    const check = createHostCheck(['Panel.Lan', '*.home.arpa', '.iot']);
    expect(check.allows('panel.lan:80')).toBe(true);
    expect(check.allows('other.lan')).toBe(false);
    expect(check.allows('home.arpa')).toBe(true);
    expect(check.allows('pi.home.arpa')).toBe(true);
    expect(check.allows('evilhome.arpa')).toBe(false);
    expect(check.allows('a.b.iot')).toBe(true);
    const byFunction = createHostCheck((name) => name.endsWith('.corp'));
    expect(byFunction.allows('x.corp:1')).toBe(true);
    expect(byFunction.allows('x.corp.evil')).toBe(false);
    expect(createHostCheck('*').allows('anything.example')).toBe(true);
    expect(() => createHostCheck(['bad host'])).toThrow(TypeError);
  });

  it('refuses with a typed 403 forbidden_host, Host first, then Origin', () => {
    const policy = resolvePolicy('test', {});
    const error = checkRequest(
      policy,
      policyRequest({ host: 'rebind.example:8080', origin: 'http://rebind.example:8080' }),
    );
    expect(error).toBeInstanceOf(BoardcastError);
    expect(error?.code).toBe('forbidden_host');
    expect(error?.status).toBe(403);
    expect(
      checkRequest(policy, policyRequest({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080' })),
    ).toBeUndefined();
    expect(checkRequest(policy, policyRequest({ host: '127.0.0.1:8080', origin: 'http://evil.example' }))?.code).toBe(
      'forbidden_origin',
    );
    // Control characters from the network never reach the message as they are.
    expect(checkRequest(policy, policyRequest({ host: 'a\u0000b' }))?.message).not.toContain('\u0000');
  });
});

describe('Origin check', () => {
  it('normalizes origins the same way for lists, same-host and predicates', () => {
    const req = policyRequest({ host: 'panel.lan' });
    expect(isOriginAllowed(['https://Panel.example.com:443/'], 'https://panel.example.com', req)).toBe(true);
    expect(isOriginAllowed(['https://panel.example.com'], 'http://panel.example.com', req)).toBe(false);
    expect(isOriginAllowed('same-host', 'http://panel.lan:80', req)).toBe(true);
    expect(isOriginAllowed('same-host', 'http://panel.lan:8080', req)).toBe(false);
    expect(isOriginAllowed('same-host', 'null', req)).toBe(false);
    expect(isOriginAllowed((origin) => origin === 'http://x.local', 'HTTP://X.LOCAL:80', req)).toBe(true);
    expect(isOriginAllowed('*', 'null', req)).toBe(true);
  });
});

describe('resolvePolicy', () => {
  it('fills one set of defaults with units', () => {
    const policy = resolvePolicy('test', {});
    expect(policy).toMatchObject({
      maxClients: 1000,
      maxClientsPerAddress: Number.POSITIVE_INFINITY,
      highWaterMark: 262144,
      slowClient: 'reset',
      allowedOrigins: 'same-host',
      allowMissingOrigin: true,
      closeTimeoutMs: 5000,
    });
  });

  it('refuses nonsense at construction with the owner and option named', () => {
    expect(() => resolvePolicy('@x/y', { maxClients: -1 })).toThrow(/@x\/y: maxClients/);
    expect(() => resolvePolicy('@x/y', { maxClientsPerAddress: 0 })).toThrow(RangeError);
    expect(() => resolvePolicy('@x/y', { highWaterMark: 1.5 })).toThrow(RangeError);
    expect(() => resolvePolicy('@x/y', { slowClient: 'drop' as 'reset' })).toThrow(TypeError);
    expect(() => resolvePolicy('@x/y', { allowedOrigins: ['not a url'] })).toThrow(TypeError);
    expect(() => resolvePolicy('@x/y', { closeTimeoutMs: 0 })).toThrow(RangeError);
  });

  it('counts connections per address', () => {
    const counter = new AddressCounter(2);
    expect(counter.acquire('1.2.3.4')).toBe(true);
    expect(counter.acquire('1.2.3.4')).toBe(true);
    expect(counter.acquire('1.2.3.4')).toBe(false);
    expect(counter.acquire('5.6.7.8')).toBe(true);
    counter.release('1.2.3.4');
    expect(counter.acquire('1.2.3.4')).toBe(true);
    expect(counter.count('1.2.3.4')).toBe(2);
  });
});

describe('Host names', () => {
  it('trims, and refuses whitespace inside, paths, queries, fragments, credentials, backslashes and bad hosts', () => {
    expect(normalizeHost('  panel.lan  ')).toBe('panel.lan');
    expect(normalizeHost('   ')).toBeUndefined();
    for (const bad of ['a\tb', 'a?b', 'a#b', 'a@b', 'a\\b', 'a/b', '[::1', 'a%zz', 'host:port']) {
      expect(normalizeHost(bad), bad).toBeUndefined();
    }
    expect(normalizeHost('LOCALHOST')).toBe('localhost');
    expect(normalizeHost('pi.')).toBe('pi');
    expect(normalizeHost('pi')).toBe('pi');
  });

  it('knows an IP literal: four dotted numbers, or brackets', () => {
    expect(isIpLiteral('1.2.3.4')).toBe(true);
    expect(isIpLiteral('[::1]')).toBe(true);
    // Every octet may have up to three digits, the last one too.
    expect(isIpLiteral('192.168.1.200')).toBe(true);
    expect(createHostCheck(undefined).allows('10.20.30.40:8080')).toBe(true);
    for (const not of ['1.2.3', 'a1.2.3.4', '1.2.3.4a', '1.2.3.4.5', '[::1', '::1]', 'pi.lan']) {
      expect(isIpLiteral(not), not).toBe(false);
    }
  });

  it('adds <hostname>.local only for a bare machine name, and reads interfaces given as a list', () => {
    expect(createHostCheck(undefined, { hostname: 'pi.lan' }).names).not.toContain('pi.lan.local');
    expect(createHostCheck(undefined, { hostname: 'pi.lan' }).allows('pi.lan')).toBe(true);
    expect(createHostCheck(undefined, { hostname: '10.0.0.5' }).names).not.toContain('10.0.0.5.local');
    expect(createHostCheck(undefined, { hostname: '' }).names).toEqual(['localhost', '*.localhost']);
    const listed = createHostCheck(undefined, {
      interfaces: [{ address: '192.168.1.20' }, { address: 'fe80::2%wlan0' }],
    });
    expect(listed.names).toEqual(['localhost', '192.168.1.20', '[fe80::2]', '*.localhost']);
    const byName = createHostCheck(undefined, { interfaces: { lo: undefined, eth0: [{ address: '10.1.1.1' }] } });
    expect(byName.names).toEqual(['localhost', '10.1.1.1', '*.localhost']);
    // An interface address that names no host adds nothing (not an undefined name).
    const odd = createHostCheck(undefined, { interfaces: [{ address: '' }, { address: 'a b' }] });
    expect(odd.names).toEqual(['localhost', '*.localhost']);
  });

  it('refuses an allowedHosts entry that names no host, saying which', () => {
    for (const entry of ['', '  ', 'a b', '*.', '.', 7]) {
      expect(() => createHostCheck([entry as string]), String(entry)).toThrow(
        new TypeError(`@boardcast: allowedHosts entry ${JSON.stringify(entry)} is not a host name`),
      );
    }
  });

  it('lists what it accepts, domains with their wildcard', () => {
    expect(createHostCheck('*').names).toEqual(['*']);
    expect(createHostCheck(['Panel.Lan:8080', '*.home.arpa', '.iot']).names).toEqual([
      'localhost',
      'panel.lan',
      'home.arpa',
      'iot',
      '*.localhost',
      '*.home.arpa',
      '*.iot',
    ]);
  });

  it('accepts by predicate only on a strict true, and never an invalid Host', () => {
    const truthy = createHostCheck(((name: string) => (name === 'x.corp' ? 1 : false)) as never);
    expect(truthy.allows('x.corp')).toBe(false);
    const all = createHostCheck(() => true);
    expect(all.allows('x.corp')).toBe(true);
    expect(all.allows('bad host')).toBe(false);
    expect(all.allows('')).toBe(false);
  });

  it('checkHost prefers the host a trusted proxy reported, and shows a refused one printable and cut to 100', () => {
    const check = createHostCheck(['panel.lan']);
    expect(checkHost(check, { host: 'panel.lan', header: () => 'evil.example' })).toBeUndefined();
    expect(checkHost(check, { host: undefined, header: () => 'panel.lan:80' })).toBeUndefined();
    const error = checkHost(check, { host: undefined, header: () => `evil\u00e9${'x'.repeat(200)}` });
    expect(error).toBeInstanceOf(BoardcastError);
    expect(error?.code).toBe('forbidden_host');
    expect(error?.message).toBe(
      `host "evil?${'x'.repeat(95)}" is not one this server answers to; add it to allowedHosts (DNS rebinding defence)`,
    );
    // A check of its own that refuses a request without Host: the message says there is none.
    const strict = { allows: (host: string | undefined) => host !== undefined, names: [] };
    expect(checkHost(strict, { host: undefined, header: () => undefined })?.message).toBe(
      'the request names no host (no Host header); this server answers only to its allowedHosts (DNS rebinding defence)',
    );
  });
});

describe('Origins', () => {
  it('normalizeOrigin is undefined for opaque and invalid origins', () => {
    expect(normalizeOrigin('HTTPS://Panel.Example:443')).toBe('https://panel.example');
    expect(normalizeOrigin('null')).toBeUndefined();
    expect(normalizeOrigin('file:///etc/passwd')).toBeUndefined();
    expect(normalizeOrigin('not a url')).toBeUndefined();
  });

  it('a predicate is asked only about a real origin and must answer true', () => {
    const req = policyRequest({ host: 'panel.lan' });
    let asked = 0;
    const policy = (origin: string) => {
      asked++;
      return origin === 'http://panel.lan';
    };
    expect(isOriginAllowed(policy, 'http://panel.lan', req)).toBe(true);
    expect(isOriginAllowed(policy, 'null', req)).toBe(false);
    expect(asked).toBe(1);
    expect(isOriginAllowed((() => 'yes') as never, 'http://panel.lan', req)).toBe(false);
  });

  it('same-host needs a Host that forms an origin', () => {
    expect(isOriginAllowed('same-host', 'http://panel.lan', policyRequest({}))).toBe(false);
    // Without a Host there is nothing to be the same as: not even the origin that names "undefined".
    expect(isOriginAllowed('same-host', 'http://undefined', policyRequest({}))).toBe(false);
    expect(isOriginAllowed('same-host', 'http://panel.lan', policyRequest({ host: '' }))).toBe(false);
    expect(isOriginAllowed('same-host', 'http://panel.lan', policyRequest({ host: 'bad host' }))).toBe(false);
    expect(isOriginAllowed('same-host', 'http://panel.lan', policyRequest({}, { host: 'panel.lan' }))).toBe(true);
    expect(
      isOriginAllowed('same-host', 'http://panel.lan', policyRequest({ host: 'panel.lan' }, { protocol: 'https' })),
    ).toBe(false);
  });

  it('a list matches after normalization only a valid header origin', () => {
    const req = policyRequest({});
    expect(isOriginAllowed(['http://a.example', 'https://b.example'], 'https://B.example:443', req)).toBe(true);
    expect(isOriginAllowed(['http://a.example'], 'http://c.example', req)).toBe(false);
    expect(isOriginAllowed(['http://a.example'], 'garbage', req)).toBe(false);
    // The header must start with the scheme: the URL parser would drop leading spaces and controls, a browser never sends them.
    for (const prefixed of [' http://a.example', '\u0001http://a.example']) {
      expect(isOriginAllowed(['http://a.example'], prefixed, req), prefixed).toBe(false);
      expect(isOriginAllowed('same-host', prefixed, policyRequest({ host: 'a.example' })), prefixed).toBe(false);
    }
  });

  it('refuses an allowedOrigins that is no policy, or lists what is not an origin', () => {
    expect(() => resolvePolicy('@x/y', { allowedOrigins: 'none' as never })).toThrow(
      new TypeError(`@boardcast: allowedOrigins must be 'same-host', '*', a list or a function`),
    );
    for (const entry of ['null', 5, 'nope']) {
      expect(() => resolvePolicy('@x/y', { allowedOrigins: [entry as string] })).toThrow(
        new TypeError(`@boardcast: allowedOrigins entry ${JSON.stringify(entry)} is not an origin URL`),
      );
    }
    for (const ok of ['*', 'same-host', () => true, ['https://a.example']] as const) {
      expect(resolvePolicy('@x/y', { allowedOrigins: ok as never }).allowedOrigins).toBe(ok);
    }
  });

  it('checkRequest: a missing Origin is refused only when required; a refused one is shown printable, cut to 100', () => {
    const strict = resolvePolicy('@x/y', { allowMissingOrigin: false });
    expect(checkRequest(strict, policyRequest({ host: 'localhost' }))).toEqual(
      new BoardcastError('forbidden_origin', 'an Origin header is required'),
    );
    expect(checkRequest(resolvePolicy('@x/y', {}), policyRequest({ host: 'localhost' }))).toBeUndefined();
    const origin = `http://e\u00e9${'x'.repeat(200)}.example`;
    const error = checkRequest(strict, policyRequest({ host: 'localhost', origin }));
    expect(error?.code).toBe('forbidden_origin');
    expect(error?.message).toBe(`origin http://e?${'x'.repeat(91)} is not allowed`);
  });
});

describe('trustProxy edges', () => {
  it('refuses what is no trustProxy, naming the problem', () => {
    expect(() => createProxyTrust({ addresses: ['loopback'], headers: 'via' as never })).toThrow(
      new TypeError(`@boardcast: trustProxy.headers must be 'x-forwarded' or 'forwarded'`),
    );
    expect(() => createProxyTrust([5 as unknown as string])).toThrow(
      new TypeError('@boardcast: trustProxy entry 5 is not a string'),
    );
    expect(() => createProxyTrust({ addresses: 'loopback' as never })).toThrow(
      new TypeError('@boardcast: trustProxy must be a list of addresses/CIDR ranges, a function or { addresses }'),
    );
    expect(() => createProxyTrust(5 as never)).toThrow(TypeError);
  });

  it('trusts nothing without an address, and a predicate only on a strict true', () => {
    expect(createProxyTrust(['loopback']).trusts(undefined)).toBe(false);
    expect(createProxyTrust(['loopback']).trusts('127.0.0.1')).toBe(true);
    expect(createProxyTrust(['loopback']).trusts('not an ip')).toBe(false);
    expect(createProxyTrust(() => true).trusts(undefined)).toBe(false);
    expect(createProxyTrust((() => 1) as never).trusts('10.0.0.1')).toBe(false);
    expect(createProxyTrust({ addresses: (a: string) => a === '10.0.0.1' }).trusts('::ffff:10.0.0.1')).toBe(true);
    expect(createProxyTrust(undefined).trusts('127.0.0.1')).toBe(false);
  });

  it('reads X-Forwarded-For entries with ports, quotes and brackets, and hidden clients as printable tokens', () => {
    const trust = createProxyTrust(['loopback']);
    const via = (xff: string) => trust.resolve(peer('127.0.0.1'), (n) => ({ 'x-forwarded-for': xff })[n]).clientAddress;
    expect(via('203.0.113.9:5000')).toBe('203.0.113.9');
    expect(via('"[::ffff:203.0.113.9]"')).toBe('203.0.113.9');
    expect(via('[2001:DB8::1]')).toBe('2001:db8::1');
    expect(via(' unknown ')).toBe('unknown');
    expect(via(`_hidden\u00e9${'z'.repeat(80)}`)).toBe(`_hidden?${'z'.repeat(56)}`);
    expect(via('a b')).toBe('a?b');
    expect(via('203.0.113.9, ,')).toBe('203.0.113.9');
    // Ports are stripped only from a whole dotted IPv4 address (any octet width) or a whole bracketed one.
    expect(via('198.51.100.10:5000')).toBe('198.51.100.10');
    expect(via('x203.0.113.9:80')).toBe('x203.0.113.9:80');
    expect(via('203.0.113.9:80x')).toBe('203.0.113.9:80x');
    expect(via('x[2001:db8::1]')).toBe('x[2001:db8::1]');
    expect(via('[2001:db8::1]x')).toBe('[2001:db8::1]x');
    expect(via('[_hidden]')).toBe('_hidden');
    // Quotes are removed around an entry only; one inside stays part of the token.
    expect(via('a"b')).toBe('a"b');
  });

  it('reads at most 32 hops from the right', () => {
    const trust = createProxyTrust(['10.0.0.0/8']);
    const hops = ['198.51.100.1', ...Array.from({ length: 32 }, (_, i) => `10.0.0.${i + 1}`)];
    const client = trust.resolve(peer('10.0.0.99'), (n) => ({ 'x-forwarded-for': hops.join(', ') })[n]);
    expect(client.clientAddress).toBe('10.0.0.1');
    const shorter = trust.resolve(peer('10.0.0.99'), (n) => ({ 'x-forwarded-for': hops.slice(1).join(', ') })[n]);
    expect(shorter.clientAddress).toBe('10.0.0.1');
    const within = trust.resolve(peer('10.0.0.99'), (n) => ({ 'x-forwarded-for': hops.slice(2).join(', ') })[n]);
    expect(within.clientAddress).toBe('10.0.0.2');
  });

  it('takes the scheme from the right-most proto, case-insensitive, and only http or https', () => {
    const trust = createProxyTrust(['loopback']);
    const proto = (value: string, encrypted = false) =>
      trust.resolve(peer('127.0.0.1', encrypted), (n) => ({ 'x-forwarded-proto': value })[n]).protocol;
    expect(proto('http, HTTPS')).toBe('https');
    expect(proto('https, http', true)).toBe('http');
    expect(proto('ftp')).toBe('http');
    expect(proto('ftp', true)).toBe('https');
    expect(proto('')).toBe('http');
  });

  it('keeps the Host header when a trusted proxy names no host', () => {
    const trust = createProxyTrust(['loopback']);
    const client = trust.resolve(peer('127.0.0.1'), (n) => ({ host: 'device:8080', 'x-forwarded-host': 'a, b' })[n]);
    expect(client.host).toBe('b');
    expect(trust.resolve(peer('127.0.0.1'), (n) => ({ host: 'device:8080' })[n]).host).toBe('device:8080');
  });

  it('reads Forwarded pairs case-insensitively, skipping malformed pairs, and commas inside quotes', () => {
    const trust = createProxyTrust({ addresses: ['loopback'], headers: 'forwarded' });
    const resolve = (forwarded: string) => trust.resolve(peer('127.0.0.1'), (n) => ({ forwarded })[n]);
    expect(resolve('For=198.51.100.7;Proto=HTTPS;HOST="a.example"')).toEqual({
      clientAddress: '198.51.100.7',
      host: 'a.example',
      protocol: 'https',
      forwarded: true,
    });
    expect(resolve('=x;for;for=198.51.100.8;by=10.0.0.1').clientAddress).toBe('198.51.100.8');
    expect(resolve('for=198.51.100.9;host="a,b.example"').host).toBe('a,b.example');
    // An element without `for` ends the walk: whom its proxy heard is unknown,
    // so nothing further left is believed (the proto it states still is).
    expect(resolve('for=198.51.100.9, host=b.example, proto=https')).toMatchObject({
      clientAddress: '127.0.0.1',
      host: undefined,
      protocol: 'https',
    });
    expect(resolve('')).toMatchObject({ clientAddress: '127.0.0.1', forwarded: true });
    // Spaces around a pair's name and value, inside quotes too, are not part of them.
    expect(resolve('for=198.51.100.7; host= a.example ;proto=https')).toMatchObject({
      host: 'a.example',
      protocol: 'https',
    });
    expect(resolve('for=" 198.51.100.7:4711"').clientAddress).toBe('198.51.100.7');
    // A pair without "=" is skipped, not read as a name cut short ("hostx" is no host).
    expect(resolve('for=198.51.100.7;host=a.example;hostx').host).toBe('a.example');
    // Quotes are removed around a value only.
    expect(resolve('for=198.51.100.7;host=a"b').host).toBe('a"b');
    // host and proto only from elements trusted proxies wrote: one the client
    // wrote (left of its own address) is not believed — Forwarded is no
    // forbidden header name, so a page in a browser may send it too.
    expect(resolve('for=198.51.100.7;proto=https;host=evil.example, for=10.0.0.1')).toMatchObject({
      clientAddress: '10.0.0.1',
      host: undefined,
      protocol: 'http',
    });
    expect(resolve('host=evil.example;proto=https, for=198.51.100.7')).toMatchObject({
      clientAddress: '198.51.100.7',
      host: undefined,
      protocol: 'http',
    });
    // The right-most one a trusted proxy wrote decides, even when a later (trusted) element has none.
    expect(resolve('for=198.51.100.7;proto=https;host=a.example, for=127.0.0.5')).toMatchObject({
      clientAddress: '198.51.100.7',
      host: 'a.example',
      protocol: 'https',
    });
  });

  it('withClient fills the request in and keeps the rest', () => {
    const req = policyRequest({ host: 'device:80', 'x-forwarded-for': '203.0.113.9' }, { method: 'POST' });
    const filled = withClient(req, createProxyTrust(['loopback']), peer('127.0.0.1', true));
    expect(filled).toMatchObject({
      method: 'POST',
      clientAddress: '203.0.113.9',
      host: 'device:80',
      protocol: 'https',
    });
    expect(filled.header('host')).toBe('device:80');
  });
});

describe('option bounds', () => {
  it('takes the bounds exactly: maxClients from 0, the others from 1; Infinity only where it is the default', () => {
    expect(resolvePolicy('@x/y', { maxClients: 0 }).maxClients).toBe(0);
    expect(resolvePolicy('@x/y', { maxClientsPerAddress: 1 }).maxClientsPerAddress).toBe(1);
    expect(resolvePolicy('@x/y', { highWaterMark: 1 }).highWaterMark).toBe(1);
    expect(resolvePolicy('@x/y', { closeTimeoutMs: 1 }).closeTimeoutMs).toBe(1);
    expect(resolvePolicy('@x/y', { maxClientsPerAddress: Number.POSITIVE_INFINITY }).maxClientsPerAddress).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(() => resolvePolicy('@x/y', { maxClients: Number.POSITIVE_INFINITY })).toThrow(
      new RangeError('@x/y: maxClients must be an integer >= 0 (got Infinity)'),
    );
    expect(() => resolvePolicy('@x/y', { highWaterMark: 0 })).toThrow(
      new RangeError('@x/y: highWaterMark must be an integer >= 1 (got 0)'),
    );
    expect(() => resolvePolicy('@x/y', { closeTimeoutMs: 0 })).toThrow(
      new RangeError('@x/y: closeTimeoutMs must be an integer >= 1 (got 0)'),
    );
    expect(() => resolvePolicy('@x/y', { maxClientsPerAddress: 2.5 })).toThrow(
      new RangeError('@x/y: maxClientsPerAddress must be an integer >= 1 (got 2.5)'),
    );
    expect(() => resolvePolicy('@x/y', { slowClient: 'drop' as never })).toThrow(
      new TypeError(`@x/y: slowClient must be 'reset' or 'disconnect' (got drop)`),
    );
    expect(resolvePolicy('@x/y', { slowClient: 'disconnect' }).slowClient).toBe('disconnect');
  });

  it('passes the other options through', () => {
    const authorize = () => true;
    const policy = resolvePolicy(
      '@x/y',
      { authorize, allowMissingOrigin: false, allowedHosts: ['panel.lan'], trustProxy: ['loopback'] },
      { hostname: 'pi' },
    );
    expect(policy.authorize).toBe(authorize);
    expect(policy.allowMissingOrigin).toBe(false);
    expect(policy.hosts.allows('panel.lan')).toBe(true);
    expect(policy.hosts.allows('pi.local')).toBe(true);
    expect(policy.proxy.trusts('127.0.0.1')).toBe(true);
  });
});

describe('AddressCounter', () => {
  it('without a limit takes every slot and counts nothing', () => {
    const counter = new AddressCounter(Number.POSITIVE_INFINITY);
    for (let i = 0; i < 5; i++) expect(counter.acquire('1.2.3.4')).toBe(true);
    expect(counter.count('1.2.3.4')).toBe(0);
    counter.release('1.2.3.4');
    expect(counter.count('1.2.3.4')).toBe(0);
  });

  it('frees an address when its last slot is released, and counts an unknown address as one key', () => {
    const counter = new AddressCounter(1);
    expect(counter.acquire(undefined)).toBe(true);
    expect(counter.acquire(undefined)).toBe(false);
    expect(counter.count(undefined)).toBe(1);
    counter.release(undefined);
    expect(counter.count(undefined)).toBe(0);
    expect(counter.acquire(undefined)).toBe(true);
    counter.release('never.seen');
    expect(counter.count('never.seen')).toBe(0);
    expect(counter.acquire('never.seen')).toBe(true);
    const two = new AddressCounter(3);
    two.acquire('a');
    two.acquire('a');
    two.release('a');
    expect(two.count('a')).toBe(1);
  });

  it('keeps nothing of an address whose last slot was released: a public server seeing many addresses does not grow', async () => {
    const counter = new AddressCounter(4);
    // 100,000 addresses each taking and giving back a slot: a counter that kept
    // a 0 for each would hold some 7 MB of keys.
    const before = await heapAfterGc();
    for (let i = 0; i < 100_000; i++) {
      const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      counter.acquire(address);
      counter.release(address);
    }
    const after = await heapAfterGc();
    expect(counter.count('10.0.0.1')).toBe(0);
    expect(after - before).toBeLessThan(2 * 1024 * 1024);
  });
});
