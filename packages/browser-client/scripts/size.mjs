#!/usr/bin/env node
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
/**
 * Size check: bundle each public entry the way a page gets it (esbuild,
 * minified, browser platform, ESM with code splitting, @boardcast/core and
 * eventsource-parser bundled in, every export kept) and report min+gzip of
 *
 * - the initial chunk: what the page downloads before it can connect;
 * - on demand: chunks behind a dynamic import() (the fetch-mode SSE reader
 *   with eventsource-parser; the HTTP command code), downloaded only when
 *   that path is taken;
 * - all: every chunk gzipped together (everything a page could ever load
 *   from the entry).
 *
 * Two kinds of limit:
 * - `budget` guards against regressions: set just above today's figures;
 *   exceeding one makes the script exit 1 (this is what CI runs).
 * - `goal` is the target from the issue; met or missed is printed, and a
 *   missed goal does not fail the run.
 *
 *   node packages/browser-client/scripts/size.mjs [--json]
 */
import { sourceAliases } from '../../../scripts/workspace-sources.mjs';

const here = fileURLToPath(new URL('..', import.meta.url));

/**
 * `goal.measure` says which figure the goal is about. Budgets sit ~80 B above
 * the figures measured when they were set (sse 3,082 / 5,896; ws 3,896;
 * whole 6,431 / 7,610, after HTTP commands moved behind an import() on first
 * use and the server-status frame of the degraded-bus work arrived): lower
 * them when the code shrinks. The SSE budget rose with the connection loop
 * shared by both clients (session.ts, issue 28: 3,111 → 3,270 / 5,858 →
 * 6,022; the root entry 6,429 → 6,581). `/channels` (7,456 / 9,173 when set) carries
 * both channel transports; `/sse`, `/ws` and the root carry none of it.
 * Issue 25 (measured sse 3,494 / 8,178; ws 5,161 / 7,089; root 6,807 / 10,440):
 * tab sharing is loaded on first use (share-loader.ts in the initial chunk,
 * share.ts on demand: +~2.3 kB "all" on every entry); skipping one oversized
 * event (resync.ts) sits in the lazy fetch-mode chunk for SSE but in the
 * initial chunk for WS, which has no lazy chunk; the decoder written out
 * instead of eventsource-parser made the fetch-mode chunk smaller; the root
 * entry exports createClientLease. Then (sse 3,505 / 8,313; ws 5,326 / 7,400;
 * root 6,968 / 10,740): the sharing catch-up carries the server status, and
 * the WS transport reports an upgrade a proxy drops (523bf40).
 * Then (sse 3,495 / 8,676; ws 5,463 / 7,912; channels 7,957 / 12,878; root
 * 7,151 / 11,282): tab sharing for channel clients (share.ts takes a model of
 * what frames mean, +~360 B on every entry's "all"; share-channels.ts and the
 * directory mirror load on demand in /channels, +~3.4 kB there; the channel
 * transports go through the lazy share loader, +~500 B initial in
 * /channels), a shorter share loader (-49 B initial in /sse), and one
 * WebSocket link for both WS transports (ws-link.ts: +~140 B initial in
 * /ws, /channels and the root, since no entry carried both copies).
 * A frozen tab keeping its channels in the union: +~40 B on every "all"
 * (sse 8,719; ws 7,950; channels 12,974; root 11,318).
 * A tab's hello naming the channels its client has started (a catch-up after a
 * leader change must not cover their events with a snapshot): +~120 B on
 * /channels "all", +~25 B elsewhere (sse 8,747; channels 13,097; root 11,339).
 * The channel WS transport asks over plain HTTP why a socket closed unopened,
 * as the single stream did, the question now in ws-link.ts (watchRefusals):
 * +~125 B on /channels (channels 8,117 / 13,282), -~30 B on /ws, /bindings
 * and the root.
 * A socket the server refuses inside it (ws-server's answer to a browser)
 * shows no `open` and sends no queued command: both wait for the server's
 * first frame that is not an error (accepted() in ws-link.ts); the
 * plain-HTTP question is bounded by a timeout and takes a 5xx for a passing
 * failure, `closed` told inside the socket is retried, and a ping at open
 * makes a quiet accepted socket answer: +~60 B on every entry with a WS
 * transport (ws 5,544 / 8,051; channels 8,188 / 13,342; bindings 7,281 /
 * 11,483; root 7,220 / 11,418).
 */
const entries = [
  {
    name: '@boardcast/browser-client/sse',
    file: 'src/sse.ts',
    goal: { measure: 'initial', bytes: 2048 },
    budget: { initial: 3580, all: 8800 },
  },
  { name: '@boardcast/browser-client/ws', file: 'src/ws.ts', budget: { initial: 5580, all: 8070 } },
  // Both transports and the channel client: what a page that names channels adds.
  { name: '@boardcast/browser-client/channels', file: 'src/channels.ts', budget: { initial: 8200, all: 13360 } },
  // What @boardcast/react and @boardcast/vue build on: the root entry's connect plus the board and command runner.
  { name: '@boardcast/browser-client/bindings', file: 'src/bindings.ts', budget: { initial: 7300, all: 11500 } },
  {
    name: '@boardcast/browser-client',
    file: 'src/index.ts',
    goal: { measure: 'all', bytes: 5120 },
    budget: { initial: 7240, all: 11440 },
  },
];

const gzip = (bytes) => gzipSync(bytes, { level: 9 }).length;

async function bundle(entry) {
  const result = await build({
    // `export *` keeps every public export alive, as an app importing them all would.
    stdin: { contents: `export * from ${JSON.stringify(`./${entry.file}`)};`, resolveDir: here, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    splitting: true,
    absWorkingDir: here,
    outdir: join(here, 'size-check'), // never written (write: false); splitting needs an outdir
    metafile: true,
    alias: sourceAliases,
    logLevel: 'silent',
  });
  return result;
}

/** Chunks reachable from `start` through static imports only. */
function staticClosure(metafile, start) {
  const seen = new Set();
  const visit = (path) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const imp of metafile.outputs[path]?.imports ?? []) if (imp.kind === 'import-statement') visit(imp.path);
  };
  visit(start);
  return seen;
}

let regressed = false;
const rows = [];
for (const entry of entries) {
  const split = await bundle(entry);
  const outputs = split.outputFiles.filter((f) => f.path.endsWith('.js'));
  const entryFile = Object.entries(split.metafile.outputs).find(([, o]) => o.entryPoint)?.[0];
  const initialSet = staticClosure(split.metafile, entryFile);
  // Initial chunks are gzipped together: an app's bundler folds them into its
  // own bundle, so their shared gzip window is the realistic figure.
  const initialFiles = outputs.filter((f) => initialSet.has(relative(here, f.path)));
  const lazyFiles = outputs.filter((f) => !initialFiles.includes(f));
  const initialCode = Buffer.concat(initialFiles.map((f) => f.contents));
  const initial = gzip(initialCode);
  const initialMin = initialCode.length;
  const onDemand = lazyFiles.reduce((sum, f) => sum + gzip(f.contents), 0);
  const whole = Buffer.concat(outputs.map((f) => f.contents));
  const figures = { initial, onDemand, all: gzip(whole) };
  const over = Object.entries(entry.budget).filter(([measure, bytes]) => figures[measure] > bytes);
  if (over.length > 0) regressed = true;
  rows.push({
    entry: entry.name,
    initialMin,
    initial,
    onDemand,
    allMin: whole.length,
    all: figures.all,
    budget: entry.budget,
    overBudget: over.map(([m]) => m),
    goal: entry.goal && { ...entry.goal, met: figures[entry.goal.measure] <= entry.goal.bytes },
  });
}

if (process.argv.includes('--json')) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  console.log('min+gzip bytes (level 9); "all" = every chunk of the entry gzipped together\n');
  for (const r of rows) {
    const budget = Object.entries(r.budget)
      .map(([m, b]) => `${m} ≤ ${b}`)
      .join(', ');
    console.log(
      `${r.overBudget.length ? 'OVER BUDGET' : 'ok         '} ${r.entry.padEnd(30)} initial ${String(r.initial).padStart(5)} B` +
        ` + on demand ${String(r.onDemand).padStart(5)} B   all ${String(r.all).padStart(5)} B` +
        `   (min: initial ${r.initialMin} B, all ${r.allMin} B; budget ${budget})`,
    );
  }
  console.log('');
  for (const r of rows.filter((row) => row.goal)) {
    const { measure, bytes, met } = r.goal;
    console.log(`goal ${met ? 'met   ' : 'MISSED'} ${r.entry}: ${measure} ≤ ${bytes} B min+gzip`);
  }
  if (regressed) console.log('\nA size budget was exceeded (regression): failing.');
}
process.exit(regressed ? 1 : 0);
