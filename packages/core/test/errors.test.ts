// BoardcastError's cause, fromJSON on malformed input and the type guards.
import { describe, expect, it } from 'vitest';
import { BoardcastError, isBoardcastError, isErrorCode } from '../src/index.js';

describe('isErrorCode', () => {
  it('accepts only a string naming a code, not something that merely converts to one', () => {
    expect(isErrorCode('timeout')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode(['timeout'])).toBe(false);
    expect(isErrorCode({ toString: () => 'timeout' })).toBe(false);
    expect(isErrorCode(undefined)).toBe(false);
  });
});

describe('BoardcastError', () => {
  it('keeps a cause when given one and has none otherwise', () => {
    const cause = new Error('socket reset');
    const withCause = new BoardcastError('network_error', 'lost', { cause });
    expect(withCause.cause).toBe(cause);
    const without = new BoardcastError('network_error', 'lost', { details: { attempt: 2 } });
    expect(Object.hasOwn(without, 'cause')).toBe(false);
    expect(without.details).toEqual({ attempt: 2 });
  });

  it('fromJSON rebuilds a known code and message', () => {
    const error = BoardcastError.fromJSON({ code: 'board_offline', message: 'board is offline' });
    expect(error.code).toBe('board_offline');
    expect(error.message).toBe('board is offline');
    expect(error.status).toBe(503);
  });

  it('fromJSON maps an unknown code to handler_failed and a non-string message to "unknown error"', () => {
    const error = BoardcastError.fromJSON({ code: 'from_the_future', message: 42 });
    expect(error.code).toBe('handler_failed');
    expect(error.message).toBe('unknown error');
  });

  it.each([
    ['null', null],
    ['a string', 'timeout'],
    ['a number', 504],
    ['undefined', undefined],
  ])('fromJSON of %s is a handler_failed "malformed error"', (_what, value) => {
    const error = BoardcastError.fromJSON(value);
    expect(error.code).toBe('handler_failed');
    expect(error.message).toBe('malformed error');
  });

  it('isBoardcastError tells a BoardcastError from a look-alike', () => {
    expect(isBoardcastError(new BoardcastError('timeout', 't'))).toBe(true);
    expect(isBoardcastError({ name: 'BoardcastError', code: 'timeout', message: 't' })).toBe(false);
    expect(isBoardcastError(new Error('t'))).toBe(false);
  });
});
