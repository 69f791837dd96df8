import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { boardcastSources } from '../../../test-support/browser-bundle.js';
import type { LaunchedBrowser } from '../../../test-support/system.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface PageBuild {
  /** URL path (`/bundle.js`, `/chunk-….js`, `/http-….js`) → code. */
  readonly files: Map<string, string>;
  /** Every source file esbuild read, relative to the working directory. */
  readonly inputs: readonly string[];
}

/**
 * A page's script bundled from sources the way a user's bundler would
 * (browser platform, code-split, `@boardcast/*` resolved to the workspace's
 * sources as the exports maps name them, no Node module allowed), for tests
 * that serve it themselves. Relative imports resolve from the package root
 * (`./src/sse.ts`). `minify` as a production build does.
 */
export async function buildPage(contents: string, options: { minify?: boolean } = {}): Promise<PageBuild> {
  const result = await build({
    stdin: { contents, resolveDir: root, loader: 'ts' },
    bundle: true,
    minify: options.minify ?? false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    splitting: true,
    metafile: true,
    outdir: join(root, 'page-bundle'), // never written
    entryNames: 'bundle',
    plugins: [boardcastSources],
    logLevel: 'silent',
  });
  const files = new Map<string, string>();
  for (const file of result.outputFiles) {
    if (/from\s*["']node:|require\(["']node:/.test(file.text)) throw new Error('the page bundle imports a Node module');
    files.set(`/${basename(file.path)}`, file.text);
  }
  return { files, inputs: Object.keys(result.metafile.inputs) };
}

/** {@link buildPage}'s files alone: URL path → code. */
export async function pageBundle(contents: string): Promise<Map<string, string>> {
  return (await buildPage(contents)).files;
}

/** The page most tests serve: nothing but the bundle's entry. */
export const PAGE = '<!doctype html><meta charset="utf-8"><script type="module" src="/bundle.js"></script>';

/**
 * A request handler for `ServeOptions.extra` (or any server): `html` at `/`
 * and `/?…`, each of `js` at its path; `false` for anything else (the API).
 * Script paths served are appended to `loaded`, in order.
 */
export function pageRoutes(html: string, js: ReadonlyMap<string, string>, loaded?: string[]) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.url === '/' || req.url?.startsWith('/?')) {
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
      return true;
    }
    const code = req.url === undefined ? undefined : js.get(req.url);
    if (code === undefined) return false;
    loaded?.push(req.url as string);
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
    return true;
  };
}

/** A new tab in `browser` at `url`; `problems` collects the page's uncaught errors (a test expects none). */
export async function openPage(browser: LaunchedBrowser, url: string) {
  const tab = await browser.browser.newPage();
  const problems: string[] = [];
  tab.on('pageerror', (e) => problems.push(String(e)));
  await tab.goto(url);
  return { tab, problems };
}
