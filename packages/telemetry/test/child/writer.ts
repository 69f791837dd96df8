/**
 * A process that writes batches of readings as fast as it can and tells its
 * parent after each commit, until it is killed (crash.test.ts).
 * argv: <sqlite|postgres> <path or URL> <schema> <batch size> <start t>
 */
import { openPostgresStore } from '../../src/postgres.js';
import { openSqliteStore } from '../../src/sqlite.js';
import type { TelemetryStore } from '../../src/types.js';
import { driver, nativeBinding } from '../native.js';

const [kind, target, schema, sizeText, startText] = process.argv.slice(2);
const size = Number(sizeText);
const start = Number(startText);

async function main(): Promise<void> {
  const store: TelemetryStore =
    kind === 'sqlite'
      ? openSqliteStore({ path: target as string, nativeBinding, driver })
      : await openPostgresStore({ connectionString: target as string, schema: schema as string });
  // Continue after what an earlier run stored.
  const before = (await store.stats({ sensor: 'load', from: start }))?.count ?? 0;
  let n = before;
  for (;;) {
    const batch = [];
    for (let i = 0; i < size; i += 1) {
      n += 1;
      batch.push({ sensor: 'load', t: start + n, value: n % 1000 });
    }
    await store.write(batch);
    // Wait for the parent's go-ahead: so at most one batch can be in flight when it kills us.
    const next = new Promise((resolve) => process.once('message', resolve));
    process.send?.({ committed: n });
    await next;
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
