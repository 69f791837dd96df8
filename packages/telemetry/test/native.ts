/**
 * The better-sqlite3 addon the SQLite tests load: the installed one, or (on
 * Node 22/24, set by scripts/test-node-versions.mjs) one built for that
 * Node's ABI by scripts/better-sqlite3-for.mjs.
 */
export const nativeBinding: string | undefined = process.env.BOARDCAST_BETTER_SQLITE3_BINDING || undefined;
