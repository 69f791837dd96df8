import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isAccessPattern, readBoardTokens, readUsers } from '../src/users.js';

const dir = mkdtempSync(join(tmpdir(), 'fleet-users-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (text: string) => {
  const path = join(dir, `users-${n++}.json`);
  writeFileSync(path, text);
  return path;
};
const usersFile = (users: unknown) => file(JSON.stringify({ users }));
const user = (fields: Record<string, unknown> = {}) => ({ token: 'long-enough-token', see: ['board-1'], ...fields });

describe('--users file', () => {
  it('reads a good file', () => {
    const path = usersFile({
      alice: user({ see: ['*'], control: ['board-*', 'board-1'] }),
      bob: user({ token: 'bob-token-1234' }),
    });
    expect(readUsers(path).users.alice).toEqual({
      token: 'long-enough-token',
      see: ['*'],
      control: ['board-*', 'board-1'],
    });
  });

  it.each([
    ['..', 'see'],
    ['b ad', 'see'],
    ['böard', 'see'],
    ['*board', 'see'],
    ['board-**', 'see'],
    ['', 'control'],
    ['~directory', 'control'],
  ])('refuses the pattern %j in %s, naming the file, the user and the pattern', (pattern, field) => {
    const path = usersFile({ eve: user({ [field]: [pattern] }) });
    expect(() => readUsers(path)).toThrow(
      new TypeError(
        `${path}: user eve: ${field} pattern ${JSON.stringify(pattern)} matches no board (a board id, * or a prefix ending in one *)`,
      ),
    );
  });

  it.each([
    ['a missing file', () => join(dir, 'missing.json'), 'no such file'],
    ['a file that is not JSON', () => file('not json'), 'not JSON: '],
    ['no users object', () => file('{"users":[]}'), 'expected { "users"'],
    ['a user named *', () => usersFile({ '*': user() }), '"*" is not a user name'],
    ['a user that is not an object', () => usersFile({ eve: 'token' }), 'user eve: expected { "token"'],
    ['a short token', () => usersFile({ eve: user({ token: 'short' }) }), 'user eve: token needs ≥ 8 characters'],
    [
      'a shared token',
      () => usersFile({ eve: user({ token: 'same-token-1' }), alice: user({ token: 'same-token-1' }) }),
      "user alice: token is another user's token",
    ],
    ['see not a list', () => usersFile({ eve: user({ see: 'board-1' }) }), 'user eve: see must be a list'],
  ])('refuses %s with one line naming the file', (_name, make, message) => {
    const path = make();
    let error: unknown;
    try {
      readUsers(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message.startsWith(`${path}: ${message}`)).toBe(true);
    expect((error as Error).message).not.toContain('\n');
  });

  it('patterns: *, an id, a prefix with one trailing *', () => {
    expect(['*', 'board-1', 'board-*', 'b*', 'mqtt:tasmota_1'].every(isAccessPattern)).toBe(true);
    expect(['**', '*x', 'a**', 'a*b', '.', ' ', 'x'.repeat(129)].some(isAccessPattern)).toBe(false);
  });

  it('--board-link: a missing file names the file', () => {
    const path = join(dir, 'no-boards.json');
    expect(() => readBoardTokens(path)).toThrow(new TypeError(`${path}: no such file`));
  });
});

it('the CLI prints one line and exits 2 for a bad users file', async () => {
  const path = usersFile({ eve: user({ see: ['..', 'board-1'] }) });
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, ['scripts/start.mjs', '--boards', '1', '--port', '0', '--users', path], {
    cwd,
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  expect(code).toBe(2);
  expect(stderr.trim()).toBe(
    `fleet: --users ${path}: user eve: see pattern ".." matches no board (a board id, * or a prefix ending in one *)`,
  );
}, 90_000);
