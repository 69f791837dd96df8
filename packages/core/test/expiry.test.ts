// Credential expiry: the expiresAt read from a credential and the timer
// armed for it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { armedTimers } from '../../../test-support/armed-timers.js';
import { credentialExpiry, onExpiry } from '../src/wire.js';

afterEach(() => {
  vi.restoreAllMocks();
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
