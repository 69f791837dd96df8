// Where each public entry of a workspace package has its source: the entry's
// `./dist/<entry>.js` in the package's `exports` map → `packages/<name>/src/<entry>.ts`
// (`@boardcast/core` → `src/index.ts`, `@boardcast/core/wire` → `src/wire.ts`).
// One rule for vitest (vitest.config.ts), esbuild bundles in tests and scripts
// (`alias: sourceAliases`; esbuild prefers the longest key, so a subpath entry
// wins over its package's), the LED demo run from source, and `pnpm mutate`.
// Code keeps importing `@boardcast/*` by public names; only resolution changes.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const packages = fileURLToPath(new URL('../packages/', import.meta.url));

/**
 * `@boardcast/<name>[/<entry>]` → absolute path of its source, for every package.
 * @param {(name: string) => string} [dirOf] where a package's folder is (default `packages/<name>/`)
 * @returns {Record<string, string>}
 */
export function workspaceSources(dirOf = (name) => `${packages}${name}/`) {
  return Object.fromEntries(
    readdirSync(packages).flatMap((name) => {
      const manifest = `${packages}${name}/package.json`;
      if (!existsSync(manifest)) return [];
      const exportsMap = JSON.parse(readFileSync(manifest, 'utf8')).exports ?? {};
      return Object.entries(exportsMap).flatMap(([subpath, target]) => {
        const dist = JSON.stringify(target).match(/"\.\/dist\/([^"]+)\.js"/)?.[1];
        if (!dist || !existsSync(`${packages}${name}/src/${dist}.ts`)) return [];
        return [[`@boardcast/${name}${subpath.slice(1)}`, `${dirOf(name)}src/${dist}.ts`]];
      });
    }),
  );
}

/** The same map as esbuild's `alias` wants it. */
export const sourceAliases = workspaceSources();

/**
 * The map as vite/vitest aliases: each key matches the whole specifier (a plain
 * string key would also match `<key>/…` and turn `@boardcast/x/contract` into
 * `src/index.ts/contract`).
 * @param {Record<string, string>} [sources]
 * @returns {{ find: RegExp, replacement: string }[]}
 */
export function viteAliases(sources = sourceAliases) {
  return Object.entries(sources).map(([spec, source]) => ({
    find: new RegExp(`^${spec.replace(/[/.-]/g, '\\$&')}$`),
    replacement: source,
  }));
}
