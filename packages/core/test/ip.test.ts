// IP parsing, RFC 5952 formatting and CIDR matching behind trustProxy, at
// their edges.
import { describe, expect, it } from 'vitest';
import { formatIp, inRange, parseIp, parseIpRanges } from '../src/ip.js';

const ip = (text: string) => {
  const parsed = parseIp(text);
  if (!parsed) throw new Error(`test address ${text} did not parse`);
  return parsed;
};
const fmt = (text: string) => formatIp(ip(text));
const range = (text: string) => {
  const [first] = parseIpRanges(text);
  if (!first) throw new Error(`test range ${text} did not parse`);
  return first;
};

describe('parseIp', () => {
  it('reads every IPv6 shape: compressed anywhere, full, with an IPv4 tail', () => {
    expect(ip('::')).toEqual({ family: 6, bytes: Array(16).fill(0) });
    expect(ip('::1').bytes).toEqual([...Array(15).fill(0), 1]);
    expect(ip('1::').bytes).toEqual([0, 1, ...Array(14).fill(0)]);
    expect(ip('1:2:3:4:5:6:7:8').bytes).toEqual([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
    expect(ip('abcd:EF01::ffff').bytes).toEqual([0xab, 0xcd, 0xef, 0x01, ...Array(10).fill(0), 0xff, 0xff]);
    expect(ip('1::2:3').bytes).toEqual([0, 1, ...Array(10).fill(0), 0, 2, 0, 3]);
    // "::" may stand for a single zero group (RFC 4291 allows it, though RFC 5952 would not write it).
    expect(ip('1:2:3:4:5:6::7').bytes).toEqual([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 0, 0, 7]);
    // IPv4-compatible (not mapped) stays IPv6, with the tail in the last four bytes.
    expect(ip('::1.2.3.4')).toEqual({ family: 6, bytes: [...Array(12).fill(0), 1, 2, 3, 4] });
    expect(ip('::ffff:1.2.3.4')).toEqual({ family: 4, bytes: [1, 2, 3, 4] });
    expect(ip('::ffff:0102:0304')).toEqual({ family: 4, bytes: [1, 2, 3, 4] });
    // Mapped only with ten zero bytes before ffff.
    expect(ip('1::ffff:1.2.3.4').family).toBe(6);
    expect(ip('::fffe:1.2.3.4').family).toBe(6);
    expect(ip('::ff:1.2.3.4').family).toBe(6);
    expect(ip(' 10.0.0.1 ')).toEqual({ family: 4, bytes: [10, 0, 0, 1] });
    expect(ip('0.0.0.0').bytes).toEqual([0, 0, 0, 0]);
    expect(ip('255.255.255.255').bytes).toEqual([255, 255, 255, 255]);
  });

  it.each([
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '1:2:3:4::5:6:7:8',
    '1:2:3:4:5:6:7:8::1::2',
    ':::',
    '12345::1',
    'g::1',
    '::ffff:1.2.3',
    '::ffff:1.2.3.999',
    '1.2.3.4.5',
    '1..2.3',
    '256.0.0.1',
    '1.2.3.-1',
    '[::1',
    'x1.2.3.4]',
    '1.2.3.04',
  ])('refuses %j', (text) => {
    expect(parseIp(text)).toBeUndefined();
  });
});

describe('formatIp', () => {
  it('compresses the longest run of zero groups, the first of equal runs, never a single zero group', () => {
    expect(fmt('::')).toBe('::');
    expect(fmt('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(fmt('1:0:0:0:0:0:0:0')).toBe('1::');
    expect(fmt('1:0:0:2:0:0:0:3')).toBe('1:0:0:2::3');
    expect(fmt('1:0:0:2:0:0:3:4')).toBe('1::2:0:0:3:4');
    expect(fmt('1:0:2:3:4:5:6:7')).toBe('1:0:2:3:4:5:6:7');
    expect(fmt('1:2:3:4:5:6:7:8')).toBe('1:2:3:4:5:6:7:8');
    expect(fmt('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(fmt('FE80:0:0:0:0:0:0:ABCD')).toBe('fe80::abcd');
    expect(fmt('10.1.2.3')).toBe('10.1.2.3');
  });
});

describe('parseIpRanges', () => {
  it('reads an address as a full-length range and a prefix up to the family width', () => {
    expect(range('10.0.0.1')).toEqual({ family: 4, bytes: [10, 0, 0, 1], prefix: 32 });
    expect(range('::1')).toEqual({ family: 6, bytes: [...Array(15).fill(0), 1], prefix: 128 });
    expect(range('0.0.0.0/0').prefix).toBe(0);
    expect(range('10.0.0.0/32').prefix).toBe(32);
    expect(range('fd00::/128').prefix).toBe(128);
    expect(range(' 10.0.0.0/8 ').prefix).toBe(8);
  });

  it('expands the names, whatever their case', () => {
    expect(parseIpRanges(' Loopback ').map((r) => r.prefix)).toEqual([8, 128]);
    expect(parseIpRanges('LINKLOCAL').map((r) => [r.family, r.prefix])).toEqual([
      [4, 16],
      [6, 10],
    ]);
    expect(parseIpRanges('uniquelocal').map((r) => [r.family, r.bytes[0], r.prefix])).toEqual([
      [4, 10, 8],
      [4, 172, 12],
      [4, 192, 16],
      [6, 0xfc, 7],
    ]);
  });

  it.each([
    '10.0.0.0/33',
    'fd00::/129',
    '10.0.0.0/8/9',
    '10.0.0.0/x',
    '10.0.0.0/',
    '10.0.0.0/0008',
    '10.0.0.0/-1',
    'loopbacks',
    '',
  ])('refuses %j, naming it', (entry) => {
    expect(() => parseIpRanges(entry)).toThrow(
      new TypeError(
        `@boardcast: trustProxy entry ${JSON.stringify(entry)} is not an IP address, a CIDR range or loopback/linklocal/uniquelocal`,
      ),
    );
  });
});

describe('inRange', () => {
  it('compares only the prefix bits, including a partial byte', () => {
    const r = range('172.16.0.0/12');
    expect(inRange(ip('172.16.0.0'), r)).toBe(true);
    expect(inRange(ip('172.31.255.255'), r)).toBe(true);
    expect(inRange(ip('172.32.0.0'), r)).toBe(false);
    expect(inRange(ip('172.15.255.255'), r)).toBe(false);
    const odd = range('10.0.0.128/25');
    expect(inRange(ip('10.0.0.200'), odd)).toBe(true);
    expect(inRange(ip('10.0.0.127'), odd)).toBe(false);
    // The whole bytes before the partial one count too.
    expect(inRange(ip('11.1.1.200'), odd)).toBe(false);
    expect(inRange(ip('173.16.0.1'), r)).toBe(false);
    const seven = range('fc00::/7');
    expect(inRange(ip('fdff::1'), seven)).toBe(true);
    expect(inRange(ip('fe00::1'), seven)).toBe(false);
  });

  it('a /0 range holds every address of its family only; a full-length range one address', () => {
    expect(inRange(ip('203.0.113.9'), range('0.0.0.0/0'))).toBe(true);
    expect(inRange(ip('::1'), range('0.0.0.0/0'))).toBe(false);
    expect(inRange(ip('10.0.0.1'), range('::/0'))).toBe(false);
    expect(inRange(ip('10.0.0.1'), range('10.0.0.1'))).toBe(true);
    expect(inRange(ip('10.0.0.2'), range('10.0.0.1'))).toBe(false);
    expect(inRange(ip('::1'), range('::1'))).toBe(true);
    expect(inRange(ip('::2'), range('::1'))).toBe(false);
  });
});
