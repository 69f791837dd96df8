/**
 * Per-viewer rights per channel. The transports' one `authorize` hook says
 * who a client is (its return value is the *principal*); an access policy
 * says which channels that principal may see and which commands it may send
 * to each. The hub checks it at subscribe time on every transport, at every
 * command, and again on every live connection after `hub.invalidateAccess()`.
 */

/** What a policy may answer: at once, or after a lookup (a database, a token service). */
export type MaybePromise<T> = T | Promise<T>;

export interface AccessPolicy<P = unknown> {
  /**
   * A stable string for a principal: invalidation, the per-principal bounds
   * (subscriptions, command rate) and the audit log use it. Default
   * {@link principalIdOf}. Principals with one id must have the same rights:
   * the hub shares one decision among the connections of an id (a directory
   * change is decided once per id). When rights depend on the credential
   * (a key that can be rotated), name the credential: `alice:k1`.
   */
  principalId?(principal: P): string;
  /** May `principal` see `channel` (its events, state and directory entry)? */
  canSee(principal: P, channel: string): MaybePromise<boolean>;
  /**
   * May `principal` send `command` to `channel`? Default: whatever
   * `canSee` answers (a viewer may drive what it sees).
   */
  canCommand?(principal: P, channel: string, command: string): MaybePromise<boolean>;
}

/**
 * The default principal id: a string principal is itself; an object's
 * `id`, `user`, `sub` or `name` string field (in that order); `anonymous`
 * for `undefined`/`null`/`true`; else `principal` (every other shape shares
 * one id, so give such principals an `id` or a policy its `principalId`).
 */
export function principalIdOf(principal: unknown): string {
  if (typeof principal === 'string') return principal;
  if (principal !== null && typeof principal === 'object') {
    const record = principal as Record<string, unknown>;
    for (const key of ['id', 'user', 'sub', 'name']) {
      const value = record[key];
      if (typeof value === 'string' || typeof value === 'number') return String(value);
    }
  }
  if (principal === undefined || principal === null || principal === true) return 'anonymous';
  return 'principal';
}

/**
 * One row of {@link accessTable}: channel patterns a principal may see and
 * may command. A pattern is a channel id, `*` (every channel), or a prefix
 * ending in `*` (`kitchen-*`).
 */
export interface AccessRule {
  /** Channels the principal may see. */
  readonly see?: readonly string[];
  /** Channels the principal may send commands to (it must also see them). */
  readonly control?: readonly string[];
  /** When given, the only command names allowed on the `control` channels. */
  readonly commands?: readonly string[];
}

/** Whether `channel` matches `pattern` (`*`, `prefix*` or an exact id). */
export function matchesChannel(pattern: string, channel: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return channel.startsWith(pattern.slice(0, -1));
  return pattern === channel;
}

function matchesAny(patterns: readonly string[] | undefined, channel: string): boolean {
  return patterns?.some((pattern) => matchesChannel(pattern, channel)) === true;
}

/** An access policy from a table you can change at run time; see {@link accessTable}. */
export interface AccessTable<P = unknown> extends AccessPolicy<P> {
  /** Replace a principal's rule (`undefined` removes it). Call `hub.invalidateAccess(id)` after, to apply it to live connections. */
  set(principalId: string, rule: AccessRule | undefined): void;
  /** The current rule of a principal (the `*` row applies to principals without one). */
  get(principalId: string): AccessRule | undefined;
}

/**
 * The common case as a table: principal id → {@link AccessRule}; the row
 * `'*'` applies to principals without a row of their own. A principal with
 * no row at all sees nothing.
 *
 * ```ts
 * const access = accessTable({
 *   alice: { see: ['*'], control: ['*'] },
 *   bob: { see: ['board-1', 'board-2'], control: ['board-1'] },
 * });
 * ```
 */
export function accessTable<P = unknown>(
  rules: Readonly<Record<string, AccessRule>>,
  options: { readonly principalId?: (principal: P) => string } = {},
): AccessTable<P> {
  const table = new Map<string, AccessRule>(Object.entries(rules));
  const idOf = options.principalId ?? principalIdOf;
  const ruleOf = (principal: P): AccessRule | undefined => table.get(idOf(principal)) ?? table.get('*');
  return {
    principalId: idOf,
    canSee: (principal, channel) => matchesAny(ruleOf(principal)?.see, channel),
    canCommand: (principal, channel, command) => {
      const rule = ruleOf(principal);
      if (!rule || !matchesAny(rule.see, channel) || !matchesAny(rule.control, channel)) return false;
      return rule.commands === undefined || rule.commands.includes(command);
    },
    set: (principalId, rule) => {
      if (rule === undefined) table.delete(principalId);
      else table.set(principalId, rule);
    },
    get: (principalId) => table.get(principalId),
  };
}

/** Everyone sees and commands everything: the policy of a hub that names none. */
export const OPEN_ACCESS: AccessPolicy = {
  canSee: () => true,
  canCommand: () => true,
};
