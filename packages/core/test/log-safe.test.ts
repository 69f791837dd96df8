import { describe, expect, it } from 'vitest';
import { LOG_SAFE_MAX_LENGTH, logSafe } from '../src/server.js';

describe('logSafe', () => {
  it('keeps a value with line breaks on one line, escapes shown', () => {
    const forged = 'led\n2026-01-01 cmd  led via http: ok\r\n';
    const out = logSafe(forged);
    expect(out).not.toMatch(/[\r\n]/);
    expect(out).toBe('led\\n2026-01-01 cmd  led via http: ok\\r\\n');
    // %0A decoded from a URL path reaches the log as a real line feed.
    expect(logSafe(decodeURIComponent('x%0Ay%0D%00'))).toBe('x\\ny\\r\\x00');
  });

  it('escapes C0/C1 controls, DEL, bidi overrides, line separators and lone surrogates', () => {
    expect(logSafe('\x1b[31mred\x7f\x85')).toBe('\\x1b[31mred\\x7f\\x85');
    expect(logSafe('a\u202eb\u2066c\u2028d\u2029e\ufeff')).toBe('a\\u{202e}b\\u{2066}c\\u{2028}d\\u{2029}e\\u{feff}');
    expect(logSafe('\ud800x')).toBe('\\u{d800}x');
    // Printable non-ASCII stays readable.
    expect(logSafe('Grüße 温度 🌡')).toBe('Grüße 温度 🌡');
  });

  it('doubles a backslash so an escape in the input cannot pass for one of ours', () => {
    expect(logSafe('a\\nb')).toBe('a\\\\nb');
    expect(logSafe('a\\nb')).not.toBe(logSafe('a\nb'));
  });

  it('caps the length and says how much was left out', () => {
    const long = 'x'.repeat(10_000);
    const out = logSafe(long);
    expect(out).toBe(`${'x'.repeat(LOG_SAFE_MAX_LENGTH)}…(+${10_000 - LOG_SAFE_MAX_LENGTH})`);
    expect(logSafe('abcdef', 3)).toBe('abc…(+3)');
    // An escape is never cut in half.
    expect(logSafe('ab\ncd', 3)).toBe('ab…(+3)');
    // A surrogate pair counts as one character left out.
    expect(logSafe('ab🌡🌡', 2)).toBe('ab…(+2)');
  });

  it('turns anything into a string and never throws', () => {
    expect(logSafe(undefined)).toBe('undefined');
    expect(logSafe(42)).toBe('42');
    const hostile = {
      toString() {
        throw new Error('no');
      },
    };
    expect(logSafe(hostile)).toBe('[object Object]');
    expect(logSafe('abc', Number.NaN)).toBe('abc');
  });
});

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
