import { afterAll, beforeAll, describe } from 'vitest';
import { type PostgresProcess, postgresBinDir, startPostgres } from '../../../test-support/postgres.js';
import { openPostgresStore } from '../src/postgres.js';
import { storeSuite } from './suite.js';

const bin = postgresBinDir();

describe.skipIf(!bin)('PostgreSQL (a real server started by the test)', () => {
  let server: PostgresProcess;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });
  // Every test gets its own schema on the one server; a second store in a test shares it.
  storeSuite('PostgreSQL', (options, db) =>
    openPostgresStore({ connectionString: server.url, schema: db, ...options }),
  );
});
