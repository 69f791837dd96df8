import { describe, expect, it } from 'vitest';
import { isAfter } from '../src/page/history.js';

describe('the page orders live readings against the store cursor as the store does', () => {
  it('in-memory bus ids: by sequence within an epoch; a new epoch (restarted server) comes after', () => {
    expect(isAfter('k3x9-5', null)).toBe(true);
    expect(isAfter('k3x9-5', 'k3x9-4')).toBe(true);
    expect(isAfter('k3x9-4', 'k3x9-4')).toBe(false); // the cursor's own reading is in the history
    expect(isAfter('k3x9-3', 'k3x9-4')).toBe(false);
    expect(isAfter('k3x9-10', 'k3x9-9')).toBe(true); // numbers, not strings
    expect(isAfter('zz01-1', 'k3x9-400')).toBe(true);
  });

  it('Redis stream ids: by milliseconds, then sequence', () => {
    expect(isAfter('1700000000001-0', '1700000000000-5')).toBe(true);
    expect(isAfter('1700000000000-6', '1700000000000-5')).toBe(true);
    expect(isAfter('1700000000000-5', '1700000000000-5')).toBe(false);
    expect(isAfter('1700000000000-4', '1700000000000-5')).toBe(false);
    expect(isAfter('999999999999-9', '1700000000000-0')).toBe(false);
  });
});
