import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const packages = fileURLToPath(new URL('../../', import.meta.url));

/** `@boardcast/<pkg>[/<entry>]` → that package's `src/<entry or index>.ts`, as a bundler resolves the exports map. */
const sources: Plugin = {
  name: 'boardcast-sources',
  setup(b) {
    b.onResolve({ filter: /^@boardcast\/[^/]+(\/[^/]+)?$/ }, (args) => {
      const [, name, entry] = args.path.split('/');
      return { path: `${packages}${name}/src/${entry ?? 'index'}.ts` };
    });
  },
};

/**
 * A page's script bundled from sources the way a user's bundler would
 * (browser platform, code-split, no Node module allowed), for tests that
 * serve it themselves. Returns URL path (`/bundle.js`, `/chunk-….js`) → code.
 */
export async function pageBundle(contents: string): Promise<Map<string, string>> {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    splitting: true,
    outdir: join(root, 'page-bundle'), // never written
    entryNames: 'bundle',
    plugins: [sources],
    logLevel: 'silent',
  });
  const files = new Map<string, string>();
  for (const file of result.outputFiles) {
    if (/from\s*["']node:|require\(["']node:/.test(file.text)) throw new Error('the page bundle imports a Node module');
    files.set(`/${basename(file.path)}`, file.text);
  }
  return files;
}
