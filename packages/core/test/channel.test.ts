// Channel ids: isChannelId takes strings only, assertChannelId names what it
// refuses.
import { describe, expect, it } from 'vitest';
import { assertChannelId } from '../src/channel.js';
import { BoardcastError, isChannelId } from '../src/index.js';

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
