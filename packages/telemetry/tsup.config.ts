import { packageConfig } from '../../tsup.base';

export default packageConfig(
  { index: 'src/index.ts', sqlite: 'src/sqlite.ts', postgres: 'src/postgres.ts' },
  { external: ['better-sqlite3', 'pg'] },
);
