// The vitest config of a Stryker run (see stryker.config.mjs): the tests of
// MUTATE_TARGET's package from its sandbox (the working directory), with
// every `@boardcast/*` entry resolved to its source — the mutated package's
// from the sandbox, every other package's from the repo.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { TARGETS } from './targets.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const sandbox = `${process.cwd()}/`;
const target = TARGETS[(process.env.MUTATE_TARGET ?? 'core') as keyof typeof TARGETS];
const mutated = target.dir.split('/')[1];

const alias: { find: RegExp; replacement: string }[] = [];
for (const name of readdirSync(`${root}packages`)) {
  const manifest = `${root}packages/${name}/package.json`;
  if (!existsSync(manifest)) continue;
  const exportsMap = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, unknown> }).exports;
  const base = name === mutated ? sandbox : `${root}packages/${name}/`;
  for (const [subpath, entry] of Object.entries(exportsMap ?? {})) {
    const dist = JSON.stringify(entry).match(/"\.\/dist\/([^"]+)\.js"/)?.[1];
    if (!dist) continue;
    const spec = `@boardcast/${name}${subpath.slice(1)}`;
    alias.push({ find: new RegExp(`^${spec.replace(/[/.-]/g, '\\$&')}$`), replacement: `${base}src/${dist}.ts` });
  }
}

export default defineConfig({
  resolve: { alias },
  test: {
    root: sandbox,
    include: target.tests,
    exclude: target.exclude,
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
