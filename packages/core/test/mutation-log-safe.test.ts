// logSafe at its edges: the cap exactly reached, odd caps, escape forms
// (mutation testing, issue 28).
import { describe, expect, it } from 'vitest';
import { LOG_SAFE_MAX_LENGTH, logSafe } from '../src/server.js';

describe('logSafe edges', () => {
  it('keeps a value exactly as long as the cap whole', () => {
    expect(logSafe('abc', 3)).toBe('abc');
    expect(logSafe('x'.repeat(LOG_SAFE_MAX_LENGTH))).toBe('x'.repeat(LOG_SAFE_MAX_LENGTH));
    expect(logSafe('a\tb', 4)).toBe('a\\tb');
    expect(logSafe('a\tb', 3)).toBe('a\\t…(+1)');
    expect(logSafe('a\tb', 2)).toBe('a…(+2)');
  });

  it('floors a fractional cap, and falls back to the default for a negative or infinite one', () => {
    expect(logSafe('abcdef', 2.9)).toBe('ab…(+4)');
    expect(logSafe('abcdef', 0)).toBe('…(+6)');
    const long = 'y'.repeat(LOG_SAFE_MAX_LENGTH + 7);
    const capped = `${'y'.repeat(LOG_SAFE_MAX_LENGTH)}…(+7)`;
    expect(logSafe(long, -1)).toBe(capped);
    expect(logSafe(long, Number.POSITIVE_INFINITY)).toBe(capped);
  });

  it('writes control bytes as two hex digits and wider characters as \\u{…}', () => {
    expect(logSafe('\x01\x00\t\\')).toBe('\\x01\\x00\\t\\\\');
    expect(logSafe('a\u00adb')).toBe('a\\xadb');
    expect(logSafe('a\u200bb\u061cc')).toBe('a\\u{200b}b\\u{61c}c');
    expect(logSafe('\udc00')).toBe('\\u{dc00}');
  });

  it('turns null, symbols and numbers into their names', () => {
    expect(logSafe(null)).toBe('null');
    expect(logSafe(Symbol('led'))).toBe('Symbol(led)');
    expect(logSafe(-0.5)).toBe('-0.5');
  });
});
