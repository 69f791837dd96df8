#!/usr/bin/env node
// better-sqlite3's addon for another Node version, built offline.
//
// `pnpm install` compiles better-sqlite3 for the Node that ran it (20 in CI);
// Node 22 and 24 have other ABIs and cannot load that file. The `node` package
// from the npm registry (what scripts/test-node-versions.mjs runs) ships that
// version's C headers (node_modules/node-<platform>-<arch>/include/node), so
// node-gyp can compile the addon for it without downloading anything. The
// build runs in a copy of the package (the installed one stays as it is) and
// the result is cached in the OS temp dir per better-sqlite3 version and ABI.
// Tests load it through SqliteStoreOptions.nativeBinding, which they read
// from BOARDCAST_BETTER_SQLITE3_BINDING.
//
//   node packages/telemetry/scripts/better-sqlite3-for.mjs /path/to/node   # prints the .node path
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The headers directory (`--nodedir`) of the npm `node` package that `nodeBin` belongs to. */
function nodeDir(nodeBin) {
  const modules = join(dirname(dirname(realpathSync(nodeBin))), 'node_modules');
  const candidates = existsSync(modules) ? readdirSync(modules).filter((name) => name.startsWith('node-')) : [];
  // `node/bin/node` is a copy of `node/node_modules/node-<platform>-<arch>/bin/node`; either layout works.
  for (const dir of [...candidates.map((name) => join(modules, name)), dirname(dirname(realpathSync(nodeBin)))]) {
    if (existsSync(join(dir, 'include', 'node', 'common.gypi'))) return dir;
  }
  throw new Error(`no C headers (include/node/common.gypi) beside ${nodeBin}`);
}

function nodeGyp() {
  const root = execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
  const gyp = join(root, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (!existsSync(gyp)) throw new Error(`node-gyp not found at ${gyp}`);
  return gyp;
}

/**
 * Path of a `better_sqlite3.node` that `nodeBin` can load: the installed one
 * when the ABI is the same, else one built (once) for it.
 */
export function betterSqlite3For(nodeBin) {
  const pkg = realpathSync(join(here, '..', 'node_modules', 'better-sqlite3'));
  const installed = join(pkg, 'build', 'Release', 'better_sqlite3.node');
  const abi = execFileSync(nodeBin, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim();
  if (abi === process.versions.modules) return installed;
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
  const cached = join(tmpdir(), `boardcast-better-sqlite3-${version}-abi${abi}.node`);
  if (existsSync(cached)) return cached;
  const work = mkdtempSync(join(tmpdir(), 'boardcast-better-sqlite3-build-'));
  try {
    cpSync(pkg, work, { recursive: true, dereference: true, filter: (src) => !src.includes(`${pkg}/build`) });
    const result = spawnSync(nodeBin, [nodeGyp(), 'rebuild', '--release', `--nodedir=${nodeDir(nodeBin)}`], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dirname(nodeBin)}:${process.env.PATH ?? ''}` },
    });
    const built = join(work, 'build', 'Release', 'better_sqlite3.node');
    if (result.status !== 0 || !existsSync(built)) {
      throw new Error(`node-gyp failed for ABI ${abi}:\n${(result.stdout + result.stderr).slice(-3000)}`);
    }
    copyFileSync(built, cached);
    return cached;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * better-sqlite3 13 (Node-API, binaries in the package) installed apart for
 * Node >= 24.19, where 12 aborts (nodejs/node#65446); its folder. Cached in
 * the temp dir. Installed outside the repository, so its `.npmrc`
 * (engine-strict: 13 declares Node >= 22, npm here runs on 20) does not apply.
 */
export function betterSqlite3ModuleFor13() {
  const prefix = join(tmpdir(), 'boardcast-better-sqlite3-13');
  const dir = join(prefix, 'node_modules', 'better-sqlite3');
  if (!existsSync(join(dir, 'package.json'))) {
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        prefix,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        'better-sqlite3@13',
      ],
      { cwd: tmpdir(), stdio: 'inherit' },
    );
  }
  return dir;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(betterSqlite3For(process.argv[2] ?? process.execPath));
}
