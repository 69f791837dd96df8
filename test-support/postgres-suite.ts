import { afterAll, beforeAll } from 'vitest';
import { type PostgresProcess, startPostgres } from './postgres.js';

/**
 * For the tests of the describe it is called in (skip that describe without
 * PostgreSQL: `describe.skipIf(!postgresBinDir())`): a PostgreSQL server
 * started before them and stopped after them. Use it inside a test.
 */
export function postgresForSuite(): PostgresProcess {
  let server: PostgresProcess | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });
  const started = () => {
    if (!server) throw new Error('postgresForSuite: the server starts in beforeAll');
    return server;
  };
  return {
    get port() {
      return started().port;
    },
    get url() {
      return started().url;
    },
    createDatabase: (name) => started().createDatabase(name),
    kill: () => started().kill(),
    start: () => started().start(),
    stop: () => started().stop(),
  };
}
