import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AccessRule, type AccessTable, accessTable, isChannelId } from '@boardcast/core';
import { createTokenAccess, type TokenAccess } from '@boardcast/sse-server';

/**
 * One user of the fleet: the token that logs them in, the boards they may
 * see and the boards they may switch (channel patterns: an id, `*`, or a
 * prefix ending in `*`).
 */
export interface FleetUser {
  readonly token: string;
  readonly see: readonly string[];
  readonly control?: readonly string[];
}

/** The `--users <file>` format: `{ "users": { "<name>": FleetUser } }`. */
export interface UsersFile {
  readonly users: Readonly<Record<string, FleetUser>>;
}

const USER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Read and check a users file. A `TypeError` names the file and what is
 * wrong: a file that cannot be read or is not JSON, a bad user name, a
 * short or shared token, a field of the wrong type or a channel pattern
 * that can match no board.
 */
export function readUsers(path: string): UsersFile {
  try {
    return parseUsers(readJson(path));
  } catch (error) {
    throw new TypeError(`${path}: ${(error as Error).message}`);
  }
}

/** The JSON of a file, or a `TypeError` saying why not (no stack for a missing file or a typo). */
function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TypeError(code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? String(error)})`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TypeError(`not JSON: ${(error as Error).message}`);
  }
}

/**
 * An access pattern of core's `accessTable`: `*`, a channel id, or a channel
 * id's prefix followed by one `*` (`board-*`). Anything else (`..`, `b ad`,
 * `*board`, `board-**`) would match no board, silently granting nothing.
 */
export function isAccessPattern(pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return isChannelId(`${pattern.slice(0, -1)}x`);
  return isChannelId(pattern);
}

export function parseUsers(value: unknown): UsersFile {
  const users = (value as { users?: unknown } | null)?.users;
  if (users === null || typeof users !== 'object' || Array.isArray(users)) {
    throw new TypeError('expected { "users": { "<name>": { "token", "see", "control" } } }');
  }
  const out: Record<string, FleetUser> = {};
  const tokens = new Set<string>();
  for (const [name, user] of Object.entries(users as Record<string, unknown>)) {
    if (!USER_NAME.test(name)) {
      throw new TypeError(`${JSON.stringify(name)} is not a user name (1–64 of A–Z a–z 0–9 _ . -)`);
    }
    if (user === null || typeof user !== 'object' || Array.isArray(user)) {
      throw new TypeError(`user ${name}: expected { "token", "see", "control" }`);
    }
    const { token, see, control } = user as Record<string, unknown>;
    if (typeof token !== 'string' || token.length < 8) throw new TypeError(`user ${name}: token needs ≥ 8 characters`);
    if (tokens.has(token)) throw new TypeError(`user ${name}: token is another user's token`);
    tokens.add(token);
    const list = (v: unknown, field: string) => {
      if (v === undefined) return [];
      if (!Array.isArray(v) || !v.every((p) => typeof p === 'string')) {
        throw new TypeError(`user ${name}: ${field} must be a list of board ids or patterns`);
      }
      const bad = (v as string[]).find((p) => !isAccessPattern(p));
      if (bad !== undefined) {
        throw new TypeError(
          `user ${name}: ${field} pattern ${JSON.stringify(bad.slice(0, 80))} matches no board (a board id, * or a prefix ending in one *)`,
        );
      }
      return v as string[];
    };
    out[name] = { token, see: list(see, 'see'), control: list(control, 'control') };
  }
  return { users: out };
}

/** Who a request is: the fleet's `authorize` result, reaching handlers as `context.auth`. */
export interface FleetPrincipal {
  /** The user name (the principal id the access policy and the audit log use). */
  readonly id: string;
  /** When the credential stops being valid (session cookie), ms since the epoch. */
  readonly expiresAt?: number | undefined;
}

export interface FleetAccess {
  /** The hub's access policy (change rights with `table.set` + `hub.invalidateAccess(user)`). */
  readonly table: AccessTable;
  /** Without users every request is `admin` with every right (a demo on a trusted LAN). */
  readonly open: boolean;
  /** The principal of a request, or `false` (401). */
  principal(request: { header(name: string): string | undefined; raw?: unknown }): FleetPrincipal | false;
  /** `GET /?token=…`: the right user's login (303 + session cookie), 401 for a wrong one; false when not a login. */
  login(req: IncomingMessage, res: ServerResponse, url: URL): boolean;
  rule(user: string): AccessRule | undefined;
}

/**
 * Per-user access: each user has a token (`Authorization: Bearer` for
 * scripts, or `/?token=` once in a browser for a session cookie of their
 * own), and a row in an `accessTable`. The same `principal` is what the
 * SSE stream, the HTTP commands and the WebSocket all get, so a user sees
 * and switches only their boards on every transport.
 */
export function createFleetAccess(file: UsersFile | undefined, trustProxy?: readonly string[]): FleetAccess {
  const entries = Object.entries(file?.users ?? {});
  const open = entries.length === 0;
  const rules: Record<string, AccessRule> = open
    ? { admin: { see: ['*'], control: ['*'] } }
    : Object.fromEntries(entries.map(([name, u]) => [name, { see: u.see, control: u.control ?? [] }]));
  const table = accessTable<FleetPrincipal | undefined>(rules, {
    principalId: (p) => p?.id ?? (open ? 'admin' : 'anonymous'),
  });
  const tokens = new Map<string, TokenAccess>(
    entries.map(([name, u]) => [name, createTokenAccess({ token: u.token, cookieName: `fleet_${name}`, trustProxy })]),
  );
  // Digests of equal length compared in constant time: neither a token nor its length leaks.
  const digest = (text: string) => createHash('sha256').update(text).digest();
  const digests = entries.map(([name, u]) => [name, digest(u.token)] as const);
  const userOf = (token: string): string | undefined => {
    const wanted = digest(token);
    let found: string | undefined;
    for (const [name, d] of digests) if (timingSafeEqual(d, wanted)) found = name;
    return found;
  };
  return {
    table: table as AccessTable,
    open,
    rule: (user) => table.get(user),
    principal(request) {
      if (open) return { id: 'admin' };
      const tokenRequest = request as Parameters<TokenAccess['allows']>[0];
      // A Bearer token names its user: only that user's check sees it (another
      // user's would count it as a wrong guess); an unknown one goes to the
      // first user's check, which refuses it and counts it for throttling.
      const bearer = /^Bearer\s+(\S+)$/i.exec(request.header('authorization') ?? '')?.[1];
      if (bearer !== undefined) {
        const name = userOf(bearer) ?? entries[0]?.[0];
        const access = name === undefined ? undefined : tokens.get(name);
        return access?.allows(tokenRequest) ? { id: name as string } : false;
      }
      for (const [name, access] of tokens) {
        if (access.allows(tokenRequest)) return { id: name, expiresAt: access.expiresAt(tokenRequest) };
      }
      return false;
    },
    login(req, res, url) {
      const offered = url.searchParams.get('token');
      if (offered === null || open) return false;
      // The user whose token it is logs in; a wrong token is answered (401, throttled) by the first user's check.
      const name = userOf(offered) ?? entries[0]?.[0];
      return name !== undefined && (tokens.get(name) as TokenAccess).login(req, res, url);
    },
  };
}

/** The `--board-link <file>` format: `{ "boards": { "<board id>": "<token>" } }`; a `TypeError` names what is wrong. */
export function readBoardTokens(path: string): Record<string, string> {
  try {
    const boards = (readJson(path) as { boards?: unknown } | null)?.boards;
    if (boards === null || typeof boards !== 'object' || Array.isArray(boards)) {
      throw new TypeError('expected { "boards": { "<board id>": "<token>" } }');
    }
    for (const [id, token] of Object.entries(boards as Record<string, unknown>)) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(id)) throw new TypeError(`"${id}" is not a board id`);
      if (typeof token !== 'string' || token.length < 8) throw new TypeError(`${id} needs a token of ≥ 8 characters`);
    }
    return boards as Record<string, string>;
  } catch (error) {
    throw new TypeError(`${path}: ${(error as Error).message}`);
  }
}
