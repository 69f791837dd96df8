// validateEntry / validateEntrySync: the message a refused payload carries,
// the issues kept as details, a throwing validator reported as
// invalid_payload, and the sync variant's fallback for async validators.
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { describe, expect, it } from 'vitest';
import { BoardcastError, typed, validateEntry } from '../src/index.js';
import { validateEntrySync } from '../src/validate.js';

function schema(
  validate: (value: unknown) => StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>,
) {
  return { '~standard': { version: 1, vendor: 'test', validate } } as StandardSchemaV1;
}

const failing = (issues: StandardSchemaV1.Issue[]) => schema(() => ({ issues }));
/** A schema whose validator throws `error` (a bug in it, not a refusal). */
const throwing = (error: Error) =>
  schema(() => {
    throw error;
  });

async function refusal(promise: Promise<unknown>): Promise<BoardcastError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BoardcastError);
  return error as BoardcastError;
}

/** What `run` throws, checked to be a BoardcastError (the synchronous twin of `refusal`). */
function thrownRefusal(run: () => unknown): BoardcastError {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(BoardcastError);
  return error as BoardcastError;
}

describe('validateEntry messages', () => {
  it('names each issue by its dotted path (keys of path segments included), separated by "; "', async () => {
    const issues: StandardSchemaV1.Issue[] = [
      { message: 'expected boolean', path: ['led', { key: 'on' }, 0] },
      { message: 'required' },
      { message: 'too big', path: [] },
    ];
    const error = await refusal(validateEntry(failing(issues), {}, 'command led input'));
    expect(error.code).toBe('invalid_payload');
    expect(error.message).toBe('command led input: led.on.0: expected boolean; required; too big');
    expect(error.details).toBe(issues);
  });

  it('names at most five issues', async () => {
    const issues = Array.from({ length: 7 }, (_, i) => ({ message: `m${i}` }));
    const error = await refusal(validateEntry(failing(issues), {}, 'x'));
    expect(error.message).toBe('x: m0; m1; m2; m3; m4');
    expect(error.details).toHaveLength(7);
  });

  it('reports a validator that throws as invalid_payload with the thrown error as cause', async () => {
    const boom = new Error('validator bug');
    const error = await refusal(validateEntry(throwing(boom), 1, 'event led'));
    expect(error.code).toBe('invalid_payload');
    expect(error.message).toBe('event led: validator failed');
    expect(error.cause).toBe(boom);
  });

  it('passes a type-only entry through and returns what an async validator made of the value', async () => {
    const value = { on: true };
    await expect(validateEntry(typed<{ on: boolean }>(), value, 'x')).resolves.toBe(value);
    await expect(
      validateEntry(
        schema(async (v) => ({ value: [v] })),
        2,
        'x',
      ),
    ).resolves.toEqual([2]);
  });
});

describe('validateEntrySync', () => {
  it('passes a type-only entry through as { value }', () => {
    const value = { on: true };
    expect(validateEntrySync(typed<{ on: boolean }>(), value, 'x')).toStrictEqual({ value });
  });

  it('returns what a synchronous validator made of the value', () => {
    expect(
      validateEntrySync(
        schema((v) => ({ value: String(v) })),
        5,
        'x',
      ),
    ).toStrictEqual({ value: '5' });
  });

  it('answers undefined for an async validator, so the caller falls back to validateEntry', () => {
    expect(
      validateEntrySync(
        schema(async (v) => ({ value: v })),
        5,
        'x',
      ),
    ).toBeUndefined();
    // A rejected async validation is not left unhandled.
    expect(
      validateEntrySync(
        schema(() => Promise.reject(new Error('later'))),
        5,
        'x',
      ),
    ).toBeUndefined();
  });

  it('throws invalid_payload with the issues for a synchronous refusal', () => {
    const issues = [{ message: 'expected number', path: ['n'] }];
    const error = thrownRefusal(() => validateEntrySync(failing(issues), 'a', 'event n'));
    expect(error.code).toBe('invalid_payload');
    expect(error.message).toBe('event n: n: expected number');
    expect(error.details).toBe(issues);
  });

  it('reports a validator that throws as invalid_payload with the thrown error as cause', () => {
    const boom = new Error('validator bug');
    const error = thrownRefusal(() => validateEntrySync(throwing(boom), 1, 'event led'));
    expect(error.code).toBe('invalid_payload');
    expect(error.message).toBe('event led: validator failed');
    expect(error.cause).toBe(boom);
  });
});
