import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile, type Plugin } from 'esbuild';

const packages = fileURLToPath(new URL('../packages/', import.meta.url));
const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/**
 * `@boardcast/<pkg>` → `packages/<pkg>/src/index.ts` and a subpath export
 * `@boardcast/<pkg>/<entry>` → `packages/<pkg>/src/<entry>.ts`: a page
 * bundled from sources resolves exactly the entries a user's bundler would.
 */
export const boardcastSources: Plugin = {
  name: 'boardcast-sources',
  setup(b) {
    b.onResolve({ filter: /^@boardcast\/[^/]+(\/[^/]+)?$/ }, (args) => {
      const [, name, entry] = args.path.split('/');
      return { path: `${packages}${name}/src/${entry ?? 'index'}.ts` };
    });
  },
};

export interface BrowserBundle {
  /** Every input file esbuild read, relative to the working directory. */
  readonly inputs: readonly string[];
  /** What each input imports, as written in its source (`zod`, `node:http` …). */
  readonly imports: ReadonlyMap<string, readonly string[]>;
  /** Node built-ins anything in the bundle imports. */
  readonly nodeBuiltins: readonly string[];
  /** Minified bytes of the initial chunks (what the page loads before it connects), and their gzip (level 9). */
  readonly initialMin: number;
  readonly initialGzip: number;
  /** All chunks, dynamic imports included. */
  readonly allMin: number;
  readonly allGzip: number;
}

/**
 * Bundle `entry` for a browser the strictest way: `platform: 'browser'`, no
 * externals. esbuild refuses to resolve a Node built-in there, so a contract
 * or page that reaches Node-only code makes this reject with that error.
 */
export async function bundleForBrowser(entry: string): Promise<BrowserBundle> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    splitting: true,
    outdir: '/nonexistent-out', // never written (write: false); splitting needs one
    write: false,
    metafile: true,
    plugins: [boardcastSources],
    logLevel: 'silent',
  });
  const meta: Metafile = result.metafile;
  const imports = new Map<string, string[]>();
  for (const [path, input] of Object.entries(meta.inputs)) {
    imports.set(
      path,
      input.imports.map((i) => i.original ?? i.path),
    );
  }
  const nodeBuiltins = [...imports.values()].flat().filter((spec) => NODE_BUILTINS.has(spec));
  const entryOut = Object.entries(meta.outputs).find(([, o]) => o.entryPoint)?.[0];
  const initialPaths = new Set<string>();
  const visit = (path: string | undefined) => {
    if (!path || initialPaths.has(path)) return;
    initialPaths.add(path);
    for (const i of meta.outputs[path]?.imports ?? []) if (i.kind === 'import-statement') visit(i.path);
  };
  visit(entryOut);
  const js = result.outputFiles.filter((f) => f.path.endsWith('.js'));
  const initial = Buffer.concat(
    js.filter((f) => [...initialPaths].some((p) => f.path.endsWith(p))).map((f) => f.contents),
  );
  const all = Buffer.concat(js.map((f) => f.contents));
  return {
    inputs: Object.keys(meta.inputs),
    imports,
    nodeBuiltins,
    initialMin: initial.length,
    initialGzip: gzipSync(initial, { level: 9 }).length,
    allMin: all.length,
    allGzip: gzipSync(all, { level: 9 }).length,
  };
}
