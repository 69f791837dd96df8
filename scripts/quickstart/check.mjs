#!/usr/bin/env node
// The quick start as a new user meets it, from the npm tarballs (run after `pnpm build`):
//
//  1. `pnpm pack` every package (workspace:^ becomes a real range) and print each tarball's size;
//  2. a fresh app in the OS temp dir, outside the workspace: `npm install` the tarballs plus what
//     the READMEs tell a user to install and what their code blocks import (typescript, esbuild and
//     @types/node as a user's tools) — nothing from the workspace's node_modules;
//  3. every ```ts block of README.md and of each package/example README becomes a file of that app
//     (scripts/quickstart/markdown.mjs: annotations say which file a block is);
//  4. `tsc` with strict and skipLibCheck: false under moduleResolution nodenext, bundler and node10
//     (errors are reported at their README line);
//  5. README.md's page is bundled by esbuild for the browser (in the format its `esbuild` command
//     gives, else esbuild's defaults: iife, no externals, so a Node built-in or a top-level await
//     fails) to where that command puts it, next to README.md's HTML block (`<!-- public/index.html -->`);
//     README.md's server runs with Node in that folder and serves all of it, nothing else does; the
//     page is clicked in Chromium, once as printed and once with the other transport ('sse' / 'ws'):
//     the command must succeed and an event must come back to the page over that transport.
//
// Usage: node scripts/quickstart/check.mjs [--keep]   (--keep leaves the app for a look)
// Exit 1 on any failure. The npm cache is used first (--prefer-offline); nothing downloads browsers.

import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CHROMIUM_ARGS } from '../../test-support/chromium-args.mjs';
import { accepts, freePort } from '../../test-support/ports.mjs';
import { installsIn, isTs, readBlocks } from './markdown.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const keep = process.argv.includes('--keep');
const started = Date.now();
const results = [];
let completed = false;

const CHROMIUM = process.env.BOARDCAST_CHROMIUM ?? '/usr/bin/chromium';

/** A block's import declarations (each with its README line) and the rest, imports blanked so lines keep their numbers. */
function splitImports(code, firstLine) {
  const lines = code.split('\n');
  const imports = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^import\s/.test(lines[i])) continue;
    let end = i;
    while (end < lines.length - 1 && !/(?:from\s+|^import\s+)['"][^'"]+['"];?\s*(?:\/\/.*)?$/.test(lines[end])) end++;
    imports.push({ text: lines.slice(i, end + 1).join('\n'), line: firstLine + i });
    for (let k = i; k <= end; k++) lines[k] = '';
    i = end;
  }
  return { imports, body: lines.join('\n') };
}

const IMPORT =
  /^import\s+(type\s+)?(?:(\w+)\s*,?\s*)?(?:\*\s*as\s+(\w+)\s*)?(?:\{([^}]*)\})?\s*from\s*(['"][^'"]+['"])/;

/** Local names bound by the import declarations in a piece of code. */
function importedNames(code) {
  const { imports } = splitImports(code, 0);
  return imports.flatMap(({ text }) => {
    const m = IMPORT.exec(text.replace(/\s+/g, ' '));
    if (!m) return [];
    const named = (m[4] ?? '')
      .split(',')
      .map((n) =>
        n
          .trim()
          .replace(/^type\s+/, '')
          .split(/\s+as\s+/)
          .at(-1),
      )
      .filter(Boolean);
    return [m[2], m[3], ...named].filter(Boolean);
  });
}

/** An import declaration without the names already bound (a fragment re-importing what its block imported); '' if none is left. */
function withoutNames(text, bound) {
  const m = IMPORT.exec(text.replace(/\s+/g, ' '));
  if (!m) return text;
  const keep = (name) => name && !bound.has(name);
  const named = (m[4] ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter(
      (n) =>
        n &&
        keep(
          n
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)
            .at(-1),
        ),
    );
  const head = [keep(m[2]) ? m[2] : '', keep(m[3]) ? `* as ${m[3]}` : '', named.length ? `{ ${named.join(', ')} }` : '']
    .filter(Boolean)
    .join(', ');
  return head ? `import ${m[1] ?? ''}${head} from ${m[5]};` : '';
}

/** What a tsc error that users of the packages meet usually means here. */
const HINTS = [
  [
    /^node_modules\/@boardcast\/.*TS7016/,
    'a published .d.ts imports a module whose types are not a dependency of that package',
  ],
  [
    /^src\/_entries\/.*TS2307/,
    'a package entry the types cannot be found for in this moduleResolution (subpaths under node10 need typesVersions)',
  ],
  [
    /TS2307: Cannot find module '\.\//,
    'no README block is this file: annotate the block that is with <!-- file: NAME.ts --> or <!-- links: NAME.ts = folder/file.ts -->, and show or link it in the README',
  ],
  [
    /TS2304: Cannot find name/,
    'a fragment: show the declaration, or annotate the block with <!-- continues: file.ts --> / <!-- assumes: … -->',
  ],
];

function step(name) {
  console.log(`\n== quickstart: ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
/**
 * Failures someone is fixing (scripts/quickstart/known-failures.json: README path, error text, why, owner).
 * A failing check whose every error is listed is reported KNOWN and does not fail the run; a listed
 * failure that no longer happens fails it, so the list cannot outlive the bugs.
 */
const known = JSON.parse(readFileSync(join(ROOT, 'scripts/quickstart/known-failures.json'), 'utf8')).map((k) => ({
  ...k,
  used: false,
}));
function knownFor(line) {
  return known.find((k) => line.startsWith(k.readme) && line.includes(k.error));
}
/** @returns {boolean} whether the check counts as passed (ok, or failed in known ways only). */
function record(name, ok, detail = '') {
  const errors = detail.split('\n').filter((l) => l.trim() && !l.startsWith('  ↳'));
  const isKnown = !ok && errors.length > 0 && errors.every((l) => knownFor(l));
  for (const l of ok ? [] : errors) {
    const k = knownFor(l);
    if (k) k.used = true;
  }
  results.push({ name, ok: ok || isKnown, known: isKnown, detail });
  const mark = ok ? 'ok  ' : isKnown ? 'KNOWN' : 'FAIL';
  const why = isKnown ? [...new Set(errors.map((l) => `${knownFor(l).owner}: ${knownFor(l).why}`))].join('\n') : '';
  console.log(
    `${mark} ${name}${detail ? `\n${[detail, why].filter(Boolean).join('\n').replace(/^/gm, '     ')}` : ''}`,
  );
  return ok || isKnown;
}
// A new user's app does not run under `pnpm <script>`: drop the npm_config_*
// (and other npm/pnpm) variables pnpm exports from the monorepo's .npmrc, or
// its engine-strict=true would judge the fresh app's dependency tree.
const userEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|pnpm_)/i.test(key)));
function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, env: userEnv, ...options });
  if (r.error) throw r.error;
  return r;
}

// ---------------------------------------------------------------- 1. pack
step('pnpm pack');
const packages = readdirSync(join(ROOT, 'packages'))
  .map((name) => join(ROOT, 'packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => !pkg.private);
for (const { dir, pkg } of packages) {
  const entry = pkg.exports?.['.']?.import?.default ?? pkg.module ?? pkg.main;
  if (!entry || !existsSync(join(dir, entry))) {
    console.error(`${pkg.name} is not built (${entry} missing): run \`pnpm build\` first`);
    process.exit(1);
  }
}
const app = mkdtempSync(join(tmpdir(), 'boardcast-quickstart-'));
const children = new Set();
process.on('exit', () => {
  for (const child of children) stopGroup(child, 'SIGKILL');
  if (!keep) rmSync(app, { recursive: true, force: true });
});
const tarDir = join(app, '.tarballs');
mkdirSync(tarDir);
const tarballs = new Map();
const sizeRows = [];
// Side by side: each pack is mostly pnpm starting up.
const packed = await Promise.all(
  packages.map(({ dir }) => runAsync('pnpm', ['pack', '--pack-destination', tarDir], dir)),
);
for (const [i, { dir, pkg }] of packages.entries()) {
  const r = packed[i];
  const file = r.output
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.endsWith('.tgz'));
  if (r.status !== 0 || !file) {
    record(`pack ${pkg.name}`, false, r.output);
    continue;
  }
  const tgz = resolve(dir, file);
  tarballs.set(pkg.name, tgz);
  const listing = run('tar', ['-tvzf', tgz]).stdout.trim().split('\n');
  const unpacked = listing.reduce((sum, l) => sum + Number(l.split(/\s+/)[2] ?? 0), 0);
  sizeRows.push({
    name: pkg.name,
    tarball: statSync(tgz).size,
    unpacked,
    files: listing.length,
    maps: listing.filter((l) => l.endsWith('.map')).length,
    mapBytes: listing.filter((l) => l.endsWith('.map')).reduce((sum, l) => sum + Number(l.split(/\s+/)[2] ?? 0), 0),
    license: listing.some((l) => /package\/LICENSE$/.test(l)),
  });
}
console.log('package                          tarball   unpacked  files  .map (bytes)      LICENSE');
for (const r of sizeRows) {
  console.log(
    `${r.name.padEnd(32)} ${String(r.tarball).padStart(8)} ${String(r.unpacked).padStart(10)} ${String(r.files).padStart(6)} ${String(r.maps).padStart(5)} ${`(${r.mapBytes})`.padStart(10)}  ${r.license ? 'yes' : 'NO'}`,
  );
  if (!r.license) record(`${r.name} tarball has LICENSE`, false);
  const { pkg } = packages.find((p) => p.pkg.name === r.name);
  const missing = ['repository.directory', 'homepage', 'bugs', 'license'].filter(
    (field) => !field.split('.').reduce((v, k) => v?.[k], pkg),
  );
  if (missing.length) record(`${r.name} package.json has ${missing.join(', ')}`, false);
}

// ---------------------------------------------------------------- 2. blocks
step('code blocks of the READMEs');
const readmes = [
  'README.md',
  ...['packages', 'examples'].flatMap((top) =>
    readdirSync(join(ROOT, top))
      .map((name) => `${top}/${name}/README.md`)
      .filter((p) => existsSync(join(ROOT, p))),
  ),
];
/** @type {Map<string, {readme: string, name: string, path: string, segments: {start: number, count: number, readme: string, line: number}[], text: string, run?: string}>} */
const files = new Map();
const unchecked = [];
const links = [];
const userInstalls = new Set();
const bareImports = new Set();
let tsBlocks = 0;
for (const readme of readmes) {
  const folder = readme === 'README.md' ? 'root' : basename(dirname(readme));
  const blocks = readBlocks(join(ROOT, readme)).map((b) => ({ ...b, readme }));
  for (const name of installsIn(blocks)) userInstalls.add(name);
  const local = new Map();
  for (const block of blocks) {
    if (!isTs(block)) continue;
    tsBlocks++;
    const { notes } = block;
    if (notes.unchecked !== undefined) {
      unchecked.push(`${readme}:${block.line} (${notes.unchecked || 'no reason given'})`);
      continue;
    }
    for (const m of block.code.matchAll(/(?:^|\n)\s*import\s[^'"]*?from\s+'([^'.][^']*)'/g)) bareImports.add(m[1]);
    for (const m of block.code.matchAll(/import\(\s*'([^'.][^']*)'\s*\)/g)) bareImports.add(m[1]);
    const parts = [];
    // A first line `// contract.ts` names the file for the reader as well as for the check.
    let name = notes.file ?? /^\/\/\s*([\w.-]+\.tsx?)\s*$/.exec(block.code.split('\n')[0])?.[1];
    if (notes.continues) {
      const target = local.get(notes.continues);
      if (!target) {
        record(
          `${readme}:${block.line}`,
          false,
          `continues: ${notes.continues}, but no earlier block in ${readme} is that file`,
        );
        continue;
      }
      if (notes.file) {
        // A named continuation is a file others build on: its names stay at the top level.
        parts.push(...target.parts);
        if (notes.assumes) parts.push({ text: notes.assumes, readme, line: block.line - 1 });
        parts.push({ text: block.code, readme, line: block.line });
      } else {
        // A fragment ("…and on Express:") may declare names the block it continues has too, as two
        // alternatives would: its imports go first, the rest into a { block } of its own.
        const { imports, body } = splitImports(block.code, block.line);
        const bound = new Set(target.parts.flatMap((p) => importedNames(p.text)));
        const hoisted = imports.map((i) => ({ ...i, readme, text: withoutNames(i.text, bound) }));
        parts.push(...hoisted.filter((i) => i.text), ...target.parts);
        if (notes.assumes) parts.push({ text: notes.assumes, readme, line: block.line - 1 });
        parts.push({ text: '{', readme, line: block.line - 1 }, { text: body, readme, line: block.line });
        parts.push({ text: '}', readme, line: block.line + block.code.split('\n').length });
      }
      name ??= `${notes.continues.replace(/\.tsx?$/, '')}.then${block.line}.ts`;
    } else {
      if (notes.assumes) parts.push({ text: notes.assumes, readme, line: block.line - 1 });
      parts.push({ text: block.code, readme, line: block.line });
    }
    name ??= `block${block.line}.ts`;
    let runAs = notes.run ?? (notes.continues ? local.get(notes.continues)?.run : undefined);
    if (!runAs && readme === 'README.md') {
      if (/from '@boardcast\/browser-client/.test(block.code)) runAs = 'browser';
      else if (/\.listen\(/.test(block.code)) runAs = 'node';
    }
    const segments = [];
    let text = '';
    let at = 1;
    for (const p of parts) {
      const count = p.text.split('\n').length;
      segments.push({ start: at, count, readme: p.readme, line: p.line });
      text += `${p.text}\n`;
      at += count;
    }
    const file = { readme, name, path: `src/${folder}/${name}`, parts, segments, text, run: runAs };
    if (local.has(name)) record(`${readme}:${block.line}`, false, `a second block is named ${name}`);
    local.set(name, file);
    files.set(file.path, file);
    for (const link of (notes.links ?? '').split(',').filter((l) => l.trim())) {
      const [as, from] = link.split('=').map((x) => x.trim());
      links.push({ readme, line: block.line, to: `src/${folder}/${as}`, from: `src/${from}` });
    }
  }
}
// A file a block imports that another README shows (resolved once every README is read).
for (const link of links) {
  const source = files.get(link.from);
  if (!source) record(`${link.readme}:${link.line}`, false, `links: ${link.from.slice(4)}, which no README block is`);
  else if (!files.has(link.to)) files.set(link.to, { ...source, path: link.to, run: undefined });
}
// Every entry point of every package, imported by name: subpath entries must resolve in each mode too.
const probe = packages.flatMap(({ pkg }) =>
  Object.keys(pkg.exports ?? { '.': {} })
    .filter((key) => key !== './package.json')
    .map((key) => pkg.name + key.slice(1)),
);
files.set('src/_entries/probe.ts', {
  readme: '(every package entry)',
  name: 'probe.ts',
  path: 'src/_entries/probe.ts',
  segments: [],
  text: `${probe.map((spec, i) => `import * as entry${i} from '${spec}';`).join('\n')}\nexport const entries = [${probe.map((_, i) => `entry${i}`).join(', ')}];\n`,
});
console.log(
  `${tsBlocks} ts blocks in ${readmes.length} READMEs: ${tsBlocks - unchecked.length} checked as ${files.size} files, ${unchecked.length} marked unchecked`,
);
for (const u of unchecked) console.log(`  unchecked: ${u}`);

// ---------------------------------------------------------------- 3. install
step('npm install into a fresh app outside the workspace');
console.log(app);
/** The workspace's installed version of a registry package, so CI hits the warm npm cache. */
function pinned(name) {
  for (const base of [ROOT, ...packages.map((p) => p.dir), join(ROOT, 'examples/led-demo'), join(ROOT, 'bench')]) {
    const p = join(base, 'node_modules', name, 'package.json');
    if (existsSync(p)) return `${name}@${JSON.parse(readFileSync(p, 'utf8')).version}`;
  }
  return name;
}
/** Type packages a user adds for an untyped library they import. */
const TYPES_FOR = { express: '@types/express' };
/** README.md's shell lines: how it says to bundle the page and run the server. */
const rootShell = readBlocks(join(ROOT, 'README.md'))
  .filter((b) => ['sh', 'bash', 'shell', 'console'].includes(b.lang))
  .flatMap((b) => b.code.split('\n'));
const runsWithTsx = rootShell.some((l) => /\bnpx\s+tsx\s+\S+\.ts\b/.test(l));
const wanted = new Set(['typescript', 'esbuild', '@types/node', ...(runsWithTsx ? ['tsx'] : [])]);
for (const name of [...userInstalls, ...bareImports]) {
  if (name.startsWith('node:')) continue;
  const pkgName = name.startsWith('@') ? name.split('/').slice(0, 2).join('/') : name.split('/')[0];
  if (!tarballs.has(pkgName)) wanted.add(pkgName);
  if (TYPES_FOR[pkgName]) wanted.add(TYPES_FOR[pkgName]);
}
writeFileSync(
  join(app, 'package.json'),
  `${JSON.stringify({ name: 'my-board-app', private: true, type: 'module' }, null, 2)}\n`,
);
const installArgs = [...tarballs.values(), ...[...wanted].sort().map(pinned)];
console.log(`npm install ${installArgs.map((a) => (a.startsWith('/') ? basename(a) : a)).join(' ')}`);
const install = run(
  'npm',
  ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...installArgs],
  { cwd: app, env: { ...userEnv, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' } },
);
record('npm install', install.status === 0, install.status === 0 ? '' : install.stderr.slice(-4000));
if (install.status !== 0) finish();

// ---------------------------------------------------------------- 3b. published types, per package
// One app holds every package, so a type package one of them depends on (mqtt depends on @types/ws)
// would hide another's missing one. So, for each package on its own: every module its .d.ts files
// import must be one of its dependencies, and one that ships no types needs its @types package there too.
step('published types: what each package .d.ts imports, it depends on');
for (const { pkg } of packages) {
  const installed = join(app, 'node_modules', pkg.name);
  const declared = { ...pkg.dependencies, ...pkg.peerDependencies };
  const problems = [];
  for (const file of readdirSync(join(installed, 'dist'), { recursive: true }).map(String)) {
    if (!/\.d\.c?ts$/.test(file)) continue;
    // Declarations only: TSDoc examples (`import … from 'zod'` in a comment) are not imports.
    const text = readFileSync(join(installed, 'dist', file), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    const specifiers = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map((m) => m[1]);
    for (const spec of new Set(specifiers)) {
      if (spec.startsWith('.') || spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (name === pkg.name) continue;
      if (!(name in declared)) {
        problems.push(`dist/${file} imports '${spec}', which is not a dependency`);
        continue;
      }
      const typesPkg = `@types/${name.replace(/^@([^/]+)\//, '$1__')}`;
      if (!shipsTypes(name) && !(typesPkg in declared)) {
        problems.push(
          `dist/${file} imports '${spec}', which ships no types, and ${typesPkg} is not a dependency (TS7016 for users)`,
        );
      }
    }
  }
  record(
    `${pkg.name}: its .d.ts imports only dependencies that have types`,
    problems.length === 0,
    [...new Set(problems)].join('\n'),
  );
}

/** Whether an installed package carries its own declarations (types/typings, exports conditions or index.d.ts). */
function shipsTypes(name) {
  const dir = join(app, 'node_modules', name);
  if (!existsSync(join(dir, 'package.json'))) return true; // not installed here: the tsc step reports it
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  return Boolean(
    manifest.types ||
      manifest.typings ||
      JSON.stringify(manifest.exports ?? {}).includes('"types"') ||
      existsSync(join(dir, 'index.d.ts')),
  );
}

// ---------------------------------------------------------------- 4. type-check
step('tsc, strict, skipLibCheck: false');
for (const file of files.values()) {
  mkdirSync(dirname(join(app, file.path)), { recursive: true });
  writeFileSync(join(app, file.path), file.text);
}
const MODES = {
  // Node's own ESM resolution: what `node server.js` will do. Pages are browser code, left to the bundler modes.
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext', pages: false },
  bundler: { module: 'esnext', moduleResolution: 'bundler', pages: true },
  // The legacy resolution older set-ups still use (no `exports`, so subpath entries need typesVersions):
  // every package entry by name, not the READMEs' code (their own imports are all package roots).
  node10: { module: 'esnext', moduleResolution: 'node10', only: 'src/_entries/probe.ts' },
};
// The three programs run side by side: with skipLibCheck false most of the time is checking the
// dependencies' declaration files, which each program does again.
const checks = Object.entries(MODES).map(async ([mode, { module, moduleResolution, pages, only }]) => {
  const include = only ? [only] : [...files.values()].filter((f) => pages || f.run !== 'browser').map((f) => f.path);
  writeFileSync(
    join(app, `tsconfig.${mode}.json`),
    JSON.stringify(
      {
        compilerOptions: {
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          target: 'es2022',
          module,
          moduleResolution,
          moduleDetection: 'force',
          lib: ['es2022', 'dom', 'dom.iterable'],
          types: ['node'],
          esModuleInterop: true,
          isolatedModules: true,
        },
        files: include,
      },
      null,
      2,
    ),
  );
  const tsc = await runAsync(
    join(app, 'node_modules/.bin/tsc'),
    ['-p', `tsconfig.${mode}.json`, '--pretty', 'false'],
    app,
  );
  return { mode, include, tsc };
});
for (const { mode, include, tsc } of await Promise.all(checks)) {
  const errors = mapErrors(tsc.output);
  record(`tsc (moduleResolution ${mode}, ${include.length} files)`, tsc.status === 0, errors.join('\n'));
}

function runAsync(cmd, args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: userEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output }));
  });
}

/** tsc's `src/x/y.ts(3,5): error TS…` lines, pointed at the README line each came from (once each). */
function mapErrors(out) {
  const seen = new Set();
  return out
    .split('\n')
    .filter((l) => l.trim())
    .filter((l) => !/^\s/.test(l))
    .flatMap((line) => {
      const hint = HINTS.find(([re]) => re.test(line))?.[1];
      return hint ? [line, `  ↳ ${hint}`] : [line];
    })
    .map((line) => {
      const m = /^(src\/[^()]+)\((\d+),(\d+)\): (.*)$/.exec(line);
      const file = m && files.get(m[1]);
      if (!file) return line;
      const n = Number(m[2]);
      const seg = file.segments.find((s) => n >= s.start && n < s.start + s.count) ?? file.segments.at(-1);
      if (!seg) return line;
      return `${seg.readme}:${seg.line + (n - seg.start)}:${m[3]} ${m[4]} (${m[1]})`;
    })
    .filter((line) => {
      // A block continued by others is in several files; its error is reported once.
      const key = line.replace(/ \(src\/[^()]+\)$/, '');
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

// ---------------------------------------------------------------- 5. run
const rootFiles = [...files.values()].filter((f) => f.readme === 'README.md');
const serverFile = rootFiles.find((f) => f.run === 'node');
const pageFile = rootFiles.find((f) => f.run === 'browser');
if (!serverFile || !pageFile) {
  record('README.md has a server and a page', false, 'expected one block run with node and one in the browser');
  finish();
}
const requireApp = createRequire(join(app, 'package.json'));
const esbuild = await import(pathToFileURL(requireApp.resolve('esbuild')).href);

// The page is bundled the way the README says (an `esbuild … --format=esm` command in a shell block
// of README.md), or with esbuild's defaults for a browser bundle (iife) when it says nothing.
const rootCommands = rootShell.filter((l) => /\besbuild\b/.test(l) && /--bundle\b/.test(l));
const bundleFormat = /--format[= ](esm|iife|cjs)/.exec(rootCommands.join('\n'))?.[1] ?? 'iife';
step(
  `bundle the page for the browser (esbuild, platform browser, no externals, format ${bundleFormat}${rootCommands.length ? ' as README.md says' : ': the default, README.md gives no command'})`,
);
const bundles = {};
const printedTransport = /transport:\s*'(sse|ws)'/.exec(pageFile.text)?.[1];
for (const transport of ['sse', 'ws']) {
  let text = pageFile.text;
  if (printedTransport !== transport) {
    if (!printedTransport) {
      record(`page over ${transport}`, false, "the page has no `transport: 'sse'|'ws'` to switch");
      continue;
    }
    text = text.replace(`transport: '${printedTransport}'`, `transport: '${transport}'`);
  }
  const entry = join(app, dirname(pageFile.path), `page-${transport}.entry.ts`);
  writeFileSync(entry, text);
  const built = await buildPage(entry, bundleFormat);
  const name = `esbuild page (${transport}${printedTransport === transport ? ', as printed' : ''}, ${bundleFormat})`;
  if (built.bundle) {
    bundles[transport] = built.bundle;
    record(`${name}: ${built.bundle.length} B`, true);
  } else if (record(name, false, built.errors.join('\n')) && bundleFormat !== 'esm') {
    // A known failure of the default format: still drive the page, as a module.
    const esm = await buildPage(entry, 'esm');
    if (esm.bundle) {
      bundles[transport] = esm.bundle;
      console.log(`     driving the page from an esm bundle instead: ${esm.bundle.length} B`);
    } else record(`esbuild page (${transport}, esm)`, false, esm.errors.join('\n'));
  }
}

async function buildPage(entry, format) {
  try {
    const out = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      format,
      write: false,
      minify: true,
      logLevel: 'silent',
      absWorkingDir: app,
    });
    return { bundle: out.outputFiles[0].text };
  } catch (error) {
    const errors = (error.errors ?? [{ text: String(error) }]).map((e) => {
      if (!e.location) return e.text;
      const inPage = e.location.file.endsWith('.entry.ts');
      const seg =
        inPage && pageFile.segments.find((g) => e.location.line >= g.start && e.location.line < g.start + g.count);
      const where = seg ? `${seg.readme}:${seg.line + e.location.line - seg.start}` : e.location.file;
      return `${where}:${e.location.column + 1} ${e.text} (${relative(app, join(app, e.location.file))})`;
    });
    return { errors };
  }
}

// The user's project folder is where the server file is: the README's commands run there, so the
// HTML block and the bundle go where they say, and the server serves them from there as printed.
const projectDir = join(app, dirname(serverFile.path));
const pageOut = /--outfile[= ](\S+)/.exec(rootCommands.join('\n'))?.[1] ?? 'page.js';
const htmlBlocks = readBlocks(join(ROOT, 'README.md'))
  .filter((b) => b.lang === 'html')
  .map((b) => ({ ...b, name: b.notes.file ?? /^<!--\s*([\w./-]+\.html?)\s*-->/.exec(b.code)?.[1] }))
  .filter((b) => b.name);
if (htmlBlocks.length === 0) {
  record(
    'README.md shows the page HTML',
    false,
    'no ```html block naming its file (first line `<!-- public/index.html -->`): a user cannot load the page',
  );
}
for (const block of htmlBlocks) {
  mkdirSync(dirname(join(projectDir, block.name)), { recursive: true });
  writeFileSync(join(projectDir, block.name), `${block.code}\n`);
  console.log(`README.md:${block.line} → ${block.name}`);
}
const port = Number(/\.listen\(\s*(\d+)/.exec(serverFile.text)?.[1] ?? Number.NaN);
const base = /connect\(\s*'([^']+)'/.exec(pageFile.text)?.[1] ?? '/api';
if (htmlBlocks.length && Object.keys(bundles).length && existsSync(CHROMIUM)) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  try {
    // Build, then run, as the README orders it: once per transport, so a server that reads its
    // folder once at start (a static-file library's default) is judged as a user meets it.
    for (const [transport, bundle] of Object.entries(bundles)) {
      mkdirSync(dirname(join(projectDir, pageOut)), { recursive: true });
      writeFileSync(join(projectDir, pageOut), bundle);
      step(`run the README's server, the page over ${transport}`);
      const server = await startServer(serverFile, port);
      if (!server) break;
      try {
        await drive(browser, server.port, base, transport);
      } finally {
        await stopServer(server);
      }
    }
  } finally {
    await browser.close();
  }
} else if (!existsSync(CHROMIUM)) record('chromium', false, `${CHROMIUM} is missing (apt-get install chromium)`);
completed = true;
finish();

async function stopServer(server) {
  stopGroup(server.child, 'SIGTERM');
  const killer = setTimeout(() => stopGroup(server.child, 'SIGKILL'), 5000);
  const gone = server.child.exitCode !== null || server.child.signalCode !== null;
  await new Promise((r) => (gone ? r() : server.child.once('exit', r)));
  clearTimeout(killer);
  stopGroup(server.child, 'SIGKILL'); // anything the runner left behind in the group
}

async function startServer(file, wantedPort) {
  if (!Number.isInteger(wantedPort)) {
    record('server', false, 'no `.listen(<port>)` in the server block');
    return undefined;
  }
  let runPort = wantedPort;
  let text = file.text;
  if (!(await portFree(wantedPort))) {
    // Someone else is on the README's port on this machine: run on a free one rather than fail CI.
    runPort = await freePort();
    text = text.replace(new RegExp(`\\.listen\\(\\s*${wantedPort}`), `.listen(${runPort}`);
    console.log(`port ${wantedPort} is in use here; running the server on ${runPort}`);
  }
  const entry = join(app, dirname(file.path), runPort === wantedPort ? basename(file.path) : 'server.run.ts');
  writeFileSync(entry, text);
  const outfile = join(app, 'out/server.mjs');
  let command = [process.execPath, outfile];
  if (runsWithTsx) {
    // As README.md prints it: `npx tsx server.ts`.
    command = [join(app, 'node_modules/.bin/tsx'), entry];
    console.log(`npx tsx ${relative(app, entry)}`);
  } else {
    try {
      // Types are stripped only (tsc has checked them); packages stay external, resolved by Node from node_modules.
      await esbuild.build({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        format: 'esm',
        packages: 'external',
        outfile,
        logLevel: 'silent',
      });
    } catch (error) {
      record('server: strip types', false, (error.errors ?? []).map((e) => e.text).join('\n') || String(error));
      return undefined;
    }
  }
  // Its own process group: tsx runs the server in a child of its own, and both must stop.
  const child = spawn(command[0], command.slice(1), {
    cwd: projectDir,
    env: userEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await accepts(runPort)) {
      record(`server listens on ${runPort}`, true);
      return { child, port: runPort, output: () => output };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  stopGroup(child, 'SIGKILL');
  record('server starts', false, `exit ${child.exitCode}\n${output.slice(-3000)}`);
  return undefined;
}

async function drive(browser, port, base, transport) {
  step(`Chromium over ${transport}: the page connects, its command is answered, a command from outside comes back`);
  // The README's server serves the page as well as /api: nothing else stands between it and Chromium.
  const origin = `http://127.0.0.1:${port}`;
  const command = /\.command\(\s*'([^']+)'\s*,\s*(\{[^}]*\})/.exec(pageFile.text);
  const page = await browser.newPage();
  const problems = [];
  const seen = { connected: false, result: false, events: [] };
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // A resource that fails is reported below with its URL; Chromium's console line for it has none.
  page.on(
    'console',
    (m) =>
      m.type() === 'error' &&
      !m.text().startsWith('Failed to load resource') &&
      problems.push(`console.error: ${m.text()}`),
  );
  page.on('requestfailed', (r) => problems.push(`${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    // The browser asks for /favicon.ico on its own; the README's page has none, as most pages do not.
    if (r.status() >= 400 && new URL(r.url()).pathname !== '/favicon.ico') {
      problems.push(`${r.request().method()} ${r.url()} answered ${r.status()}`);
    }
    if (r.request().method() !== 'POST' || !r.url().includes(`${base}/commands/`)) return;
    if (r.status() === 200) seen.result = true;
  });
  page.on('websocket', (ws) =>
    ws.on('framereceived', ({ payload }) => {
      const frame = safeJson(payload);
      if (frame?.type === 'snapshot') seen.connected = true;
      if (frame?.type === 'result' && frame.ok) seen.result = true;
      else if (frame?.type === 'result') problems.push(`command failed: ${payload}`);
      if (frame?.type === 'event') seen.events.push(frame.event);
    }),
  );
  // What the page's EventSource receives (the stream's frames are not visible to page.on('response')).
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.eventSourceMessageReceived', ({ eventName }) => {
    // Only the contract's events count, not the protocol's own (snapshot, reset, keep-alive).
    if (eventName === 'snapshot') seen.connected = true;
    else if (!['reset', 'keepalive', 'ping', 'message'].includes(eventName)) seen.events.push(eventName);
  });
  const html = await page.goto(`${origin}/`);
  if (html?.status() !== 200) problems.push(`GET / answered ${html?.status()}: the server does not serve the page`);
  const wantResult = Boolean(command);
  await until(() => (seen.connected && (seen.result || !wantResult)) || problems.length > 0, 10_000);
  // The page's own command publishes an event: it must come back over the page's transport.
  await until(() => seen.events.length > 0 || problems.length > 0, 5_000);
  const own = [...seen.events];
  // And a change made elsewhere (another tab, a button on the board) must reach the page live: the
  // page's command again, from outside, when its input is a literal.
  let sent = 'the page command input is not a literal: not sent from outside';
  let outside = [];
  let input;
  try {
    input = command ? Function(`return (${command[2]})`)() : undefined;
  } catch {}
  if (seen.connected && !problems.length && input !== undefined) {
    seen.events.length = 0;
    const res = await fetch(`http://127.0.0.1:${port}${base}/commands/${command[1]}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    sent = `POST ${base}/commands/${command[1]} ${JSON.stringify(input)} → ${res.status} ${await res.text()}`;
    await until(() => seen.events.length > 0 || problems.length > 0, 10_000);
    outside = [...seen.events];
  }
  const events = [...own, ...outside];
  const ok =
    seen.connected &&
    (seen.result || !wantResult) &&
    events.length > 0 &&
    (input === undefined || outside.length > 0) &&
    !problems.length;
  record(
    `Chromium over ${transport}: connected, the page's command answered, event \`${events[0] ?? '—'}\` back on the page`,
    ok,
    ok
      ? ''
      : [
          `connected (snapshot): ${seen.connected}`,
          `the page's command answered: ${wantResult ? seen.result : 'the page sends none'}`,
          `events after the page's command: ${own.join(', ') || 'none'}`,
          sent,
          `events after it: ${outside.join(', ') || 'none'}`,
          ...problems,
        ].join('\n'),
  );
  await page.close();
}

async function until(condition, ms) {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
}

/** Signal the process group a server runs in (the runner and what it started). */
function stopGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {}
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
function portFree(port) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, () => probe.close(() => resolve(true)));
  });
}

function finish() {
  if (keep) console.log(`\nthe app is kept at ${app}`);
  for (const k of completed ? known.filter((k) => !k.used) : []) {
    record(
      `known failure no longer happens: ${k.readme} "${k.error}" (${k.owner}) — remove it from known-failures.json`,
      false,
    );
  }
  const knownCount = results.filter((r) => r.known).length;
  if (knownCount)
    console.log(`\n${knownCount} checks failed only in known ways (scripts/quickstart/known-failures.json)`);
  const failed = results.filter((r) => !r.ok);
  console.log(
    `\nquickstart: ${results.length - failed.length} checks passed, ${failed.length} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
  for (const f of failed) console.log(`  FAIL ${f.name}`);
  process.exit(failed.length ? 1 : 0);
}
