import { describe, expect, it } from 'vitest';
import { BoardcastError } from '../src/index.js';
import {
  AddressCounter,
  checkRequest,
  createHostCheck,
  isOriginAllowed,
  normalizeHost,
  resolvePolicy,
} from '../src/server.js';
import { policyRequest } from './fixtures.js';

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
