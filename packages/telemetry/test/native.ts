/**
 * Which better-sqlite3 the SQLite tests load, for the Node-versions run
 * (scripts/test-node-versions.mjs, packages/telemetry/scripts/better-sqlite3-for.mjs):
 * the installed one by default; on Node 22 the addon built for its ABI
 * (`BOARDCAST_BETTER_SQLITE3_BINDING`); on Node 24.19+ better-sqlite3 13
 * installed apart (`BOARDCAST_BETTER_SQLITE3_MODULE`, its folder).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type Database from 'better-sqlite3';

export const nativeBinding: string | undefined = process.env.BOARDCAST_BETTER_SQLITE3_BINDING || undefined;

const modulePath = process.env.BOARDCAST_BETTER_SQLITE3_MODULE || undefined;
export const driver: typeof Database | undefined = modulePath
  ? // An absolute path: any base will do (the crash test's child is a CommonJS bundle without import.meta).
    (createRequire(join(process.cwd(), 'index.js'))(modulePath) as typeof Database)
  : undefined;
