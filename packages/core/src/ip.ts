/**
 * IP addresses and CIDR ranges for `trustProxy`, without Node's `net`
 * (core also runs in browsers). Only what matching a proxy's address
 * needs: parse IPv4 and IPv6 (with an IPv4 tail, a zone index, brackets),
 * treat IPv4-mapped IPv6 (`::ffff:10.0.0.1`, how a dual-stack Node socket
 * reports IPv4 peers) as the IPv4 address, and test membership in a range.
 */

/** A parsed address: 4 bytes (IPv4) or 16 (IPv6). */
export interface IpAddress {
  readonly family: 4 | 6;
  readonly bytes: readonly number[];
}

function parseV4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return bytes;
}

function parseV6(text: string): number[] | undefined {
  let body = text;
  let tail: number[] = [];
  const lastColon = body.lastIndexOf(':');
  if (body.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(body.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = v4;
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string) => (half === '' ? [] : half.split(':'));
  const head = groups(halves[0] ?? '');
  const rest = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  const bytes: number[] = [];
  for (const group of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
    const n = Number.parseInt(group, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

/**
 * Parse an address as sockets and proxies write it: `10.0.0.1`, `::1`,
 * `[::1]`, `fe80::1%eth0`, `::ffff:10.0.0.1` (→ IPv4). Undefined for
 * anything else (host names, ports, garbage).
 */
export function parseIp(text: string): IpAddress | undefined {
  let value = text.trim();
  if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1);
  if (value.includes(':')) {
    const bytes = parseV6(value.split('%')[0] ?? '');
    if (!bytes) return undefined;
    const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
    return mapped ? { family: 4, bytes: bytes.slice(12) } : { family: 6, bytes };
  }
  const bytes = parseV4(value);
  return bytes ? { family: 4, bytes } : undefined;
}

/** The canonical text of an address: dotted IPv4, or RFC 5952 IPv6 (lower case, longest zero run as `::`). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return ip.bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i] ?? 0) << 8) | (ip.bytes[i + 1] ?? 0));
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      best = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLength).join(':')}`;
}

/** A range: an address and how many leading bits must match. */
export interface IpRange {
  readonly family: 4 | 6;
  readonly bytes: readonly number[];
  readonly prefix: number;
}

/** Named ranges, as Express's `trust proxy` and proxy-addr name them. */
const NAMED: Readonly<Record<string, readonly string[]>> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/**
 * `10.0.0.1`, `10.0.0.0/8`, `fd00::/8`, or one of the names `loopback`,
 * `linklocal`, `uniquelocal` → the ranges it stands for. Throws a
 * `TypeError` naming the entry otherwise, so a typo fails at start-up.
 */
export function parseIpRanges(entry: string): IpRange[] {
  const named = NAMED[entry.trim().toLowerCase()];
  if (named) return named.flatMap(parseIpRanges);
  const [address = '', bits, extra] = entry.trim().split('/');
  const ip = parseIp(address);
  const max = ip?.family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
  if (!ip || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
    throw new TypeError(
      `@boardcast: trustProxy entry ${JSON.stringify(entry)} is not an IP address, a CIDR range or loopback/linklocal/uniquelocal`,
    );
  }
  return [{ family: ip.family, bytes: ip.bytes, prefix }];
}

/** True when `ip` lies in `range`. */
export function inRange(ip: IpAddress, range: IpRange): boolean {
  if (ip.family !== range.family) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((ip.bytes[i] ?? 0) & mask) !== ((range.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}
