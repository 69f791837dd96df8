import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Entry } from './contract.js';
import { isStandardSchema } from './contract.js';
import { BoardcastError } from './errors.js';

function formatIssues(issues: readonly StandardSchemaV1.Issue[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = (issue.path ?? [])
        .map((segment) => (typeof segment === 'object' ? segment.key : segment))
        .map(String)
        .join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

function toResult<T>(result: StandardSchemaV1.Result<unknown>, what: string): T {
  if (result.issues) {
    throw new BoardcastError('invalid_payload', `${what}: ${formatIssues(result.issues)}`, {
      details: result.issues,
    });
  }
  return result.value as T;
}

/**
 * Validate `value` against an entry. Type-only entries pass the value
 * through. Always async-safe: Standard Schema validators may return promises.
 * Throws only `BoardcastError('invalid_payload')` — a validator that itself
 * throws is reported the same way, never as a crash.
 */
export async function validateEntry<T>(entry: Entry, value: unknown, what: string): Promise<T> {
  if (!isStandardSchema(entry)) return value as T;
  let result: StandardSchemaV1.Result<unknown>;
  try {
    result = await entry['~standard'].validate(value);
  } catch (error) {
    throw new BoardcastError('invalid_payload', `${what}: validator failed`, { cause: error });
  }
  return toResult<T>(result, what);
}

/**
 * Synchronous variant for hot paths; when a validator is async it returns
 * `undefined` so the caller can fall back to {@link validateEntry}.
 */
export function validateEntrySync<T>(entry: Entry, value: unknown, what: string): { value: T } | undefined {
  if (!isStandardSchema(entry)) return { value: value as T };
  let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
  try {
    result = entry['~standard'].validate(value);
  } catch (error) {
    throw new BoardcastError('invalid_payload', `${what}: validator failed`, { cause: error });
  }
  if (result instanceof Promise) {
    result.catch(() => undefined); // the caller re-validates asynchronously
    return undefined;
  }
  return { value: toResult<T>(result, what) };
}
