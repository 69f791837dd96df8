import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { openSqliteStore } from '../src/sqlite.js';
import { driver, nativeBinding } from './native.js';
import { storeSuite } from './suite.js';

const dir = mkdtempSync(join(tmpdir(), 'boardcast-telemetry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

storeSuite('SQLite', async (options, db) =>
  openSqliteStore({ path: join(dir, `${db}.db`), nativeBinding, driver, ...options }),
);
