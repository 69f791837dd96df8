/**
 * A real PostgreSQL server for tests (Debian's `postgresql` package), on a
 * free port of 127.0.0.1 with its own data and socket directory, like
 * redis-server.ts. `initdb` and `postgres` refuse to run as root, and CI
 * runs as root: there the server runs as the `postgres` system user (the
 * package creates it) in directories it owns; as any other user it runs as
 * that user.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemon, freePort } from './daemon.js';

export { freePort };

/** `bin` directory of the newest installed major version, or `undefined`. */
export function postgresBinDir(): string | undefined {
  const fromEnv = process.env.BOARDCAST_POSTGRES_BIN;
  if (fromEnv && existsSync(join(fromEnv, 'postgres'))) return fromEnv;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((name) => existsSync(join(root, name, 'bin', 'postgres')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  if (process.env.BOARDCAST_REQUIRE_ALL === '1') {
    throw new Error('postgresql is required (BOARDCAST_REQUIRE_ALL=1) but /usr/lib/postgresql/*/bin is missing');
  }
  return undefined;
}

export interface PostgresProcess {
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication: tests only). */
  readonly url: string;
  /** A fresh database on this server; its URL. */
  createDatabase(name: string): Promise<string>;
  /** SIGKILL the postmaster (a crash: clients see a reset) and wait for it. */
  kill(): Promise<void>;
  /** Start again on the same port and data directory. */
  start(): Promise<void>;
  /** Fast shutdown and remove the data directory. */
  stop(): Promise<void>;
}

/** uid/gid to run as: the `postgres` user when we are root, else ourselves. */
function identity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root needs the postgres system user (apt-get install postgresql creates it)');
  }
}

/**
 * Start a server. `fsync: false` (default) is for speed: the tests kill our
 * clients, not the server. Benchmarks pass `fsync: true`.
 */
export async function startPostgres(options: { fsync?: boolean } = {}): Promise<PostgresProcess> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('postgresql is not installed (apt-get install postgresql)');
  const user = identity();
  const dir = mkdtempSync(join(tmpdir(), 'boardcast-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  execFileSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'],
    { stdio: 'pipe', cwd: dir, ...user },
  );
  const port = await freePort();
  const args = [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    `fsync=${options.fsync ? 'on' : 'off'}`,
    '-c',
    'max_connections=50',
  ];
  const server = daemon({
    name: 'postgres',
    binary: join(bin, 'postgres'),
    args,
    ready: /database system is ready to accept connections/,
    startTimeoutMs: 30_000,
    cwd: dir,
    ...user,
  });
  const start = () => server.start();

  await start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    port,
    url,
    async createDatabase(name: string) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      execFileSync(
        join(bin, 'psql'),
        ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-q', '-c', `CREATE DATABASE ${name}`],
        {
          stdio: 'pipe',
        },
      );
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    kill: () => server.kill(),
    start,
    async stop() {
      // SIGINT: PostgreSQL's fast shutdown (ends sessions, checkpoints, exits).
      await server.stop('SIGINT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
