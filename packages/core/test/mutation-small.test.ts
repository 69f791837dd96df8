// Small core helpers whose promises mutation testing (issue 28) found
// unchecked: channel ids, credential expiry timers, the server status frame.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { armedTimers } from '../../../test-support/armed-timers.js';
import { assertChannelId } from '../src/channel.js';
import { BoardcastError, isChannelId } from '../src/index.js';
import { credentialExpiry, onExpiry, parseServerStatus } from '../src/wire.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('channel ids', () => {
  it('are strings only, even when a value would convert to a valid id', () => {
    expect(isChannelId('b1')).toBe(true);
    expect(isChannelId(123)).toBe(false);
    expect(isChannelId(['b1'])).toBe(false);
    expect(isChannelId({ toString: () => 'b1' })).toBe(false);
  });

  it('assertChannelId returns a valid id and names a bad one, quoted and cut to 40 characters', () => {
    expect(assertChannelId('kitchen.b-1')).toBe('kitchen.b-1');
    const rule = '1–128 characters of A–Z a–z 0–9 _ . : -, starting with a letter or digit';
    expect(() => assertChannelId('-x')).toThrow(
      new BoardcastError('invalid_payload', `invalid channel id "-x": ${rule}`),
    );
    try {
      assertChannelId(`/${'a'.repeat(200)}`);
      expect.unreachable();
    } catch (error) {
      expect((error as BoardcastError).code).toBe('invalid_payload');
      expect((error as BoardcastError).message).toBe(`invalid channel id "/${'a'.repeat(39)}": ${rule}`);
    }
  });

  it('assertChannelId names the type of a value that is not a string', () => {
    const rule = '1–128 characters of A–Z a–z 0–9 _ . : -, starting with a letter or digit';
    expect(() => assertChannelId(42)).toThrow(`invalid channel id number: ${rule}`);
    expect(() => assertChannelId(null)).toThrow(`invalid channel id object: ${rule}`);
    expect(() => assertChannelId(undefined)).toThrow(`invalid channel id undefined: ${rule}`);
  });
});

describe('credential expiry', () => {
  it('reads a numeric expiresAt only', () => {
    expect(credentialExpiry({ expiresAt: 1_700_000_000_000 })).toBe(1_700_000_000_000);
    expect(credentialExpiry({ expiresAt: '1700000000000' })).toBeUndefined();
    expect(credentialExpiry({ expiresAt: Number.NaN })).toBeUndefined();
    expect(credentialExpiry(null)).toBeUndefined();
    expect(credentialExpiry(true)).toBeUndefined();
  });

  it('arms a timer that does not keep the process alive', () => {
    const timers = armedTimers();
    const cancel = onExpiry(Date.now() + 60_000, () => undefined);
    expect(timers).toHaveLength(1);
    expect(timers[0]?.hasRef()).toBe(false);
    cancel();
  });

  it('works where setTimeout returns a plain number (browsers): no unref to call', () => {
    let armed = 0;
    vi.spyOn(globalThis, 'setTimeout').mockImplementation((() => {
      armed++;
      return 17;
    }) as unknown as typeof setTimeout);
    vi.spyOn(globalThis, 'clearTimeout').mockImplementation(() => undefined);
    const cancel = onExpiry(Date.now() + 60_000, () => undefined);
    expect(armed).toBe(1);
    cancel();
  });
});

describe('parseServerStatus', () => {
  it('reads both statuses and nothing else', () => {
    expect(parseServerStatus({ bus: 'ok' })).toStrictEqual({ bus: 'ok' });
    expect(parseServerStatus({ bus: 'degraded', extra: 1 })).toStrictEqual({ bus: 'degraded' });
    expect(parseServerStatus({ bus: '' })).toBeUndefined();
    expect(parseServerStatus({ bus: 'down' })).toBeUndefined();
    expect(parseServerStatus(null)).toBeUndefined();
    expect(parseServerStatus('ok')).toBeUndefined();
  });
});
