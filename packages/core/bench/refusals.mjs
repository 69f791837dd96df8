#!/usr/bin/env node
// What a refused channel costs in `connection.add` next to an accepted one:
// one connection adds 1,000 channels its access policy allows, another 1,000
// it refuses (`forbidden`: a refusal in the result and a `forbidden` frame
// each), repeated; prints the median ms per 1,000 of each.
//
// Run on the sources (no build): `node packages/core/bench/refusals.mjs`
// (it bundles src with esbuild into a temp file first).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const out = join(mkdtempSync(join(tmpdir(), 'refusals-')), 'core.mjs');
execFileSync(join(here, '../../../node_modules/.bin/esbuild'), [
  join(here, '../src/index.ts'),
  '--bundle',
  '--platform=node',
  '--format=esm',
  `--outfile=${out}`,
  '--log-level=warning',
]);
const { createHub, defineContract, typed } = await import(out);

const N = 1000;
const ROUNDS = Number(process.argv[2] ?? 30);
const contract = defineContract({
  events: { tick: typed() },
  commands: {},
  state: typed(),
  reducers: { tick: (s) => s },
});
const sink = {
  snapshot() {},
  event(frame) {
    void frame.sse;
    void frame.ws;
  },
  reset() {},
};
const hub = createHub(contract, {
  state: 0,
  maxChannels: N + 10,
  maxChannelsPerConnection: 2 * N,
  access: { canSee: (_p, channel) => channel.startsWith('ok-') },
});
for (let i = 0; i < N; i++) await hub.channel(`ok-${i}`).publish('tick', 1);
const ok = Array.from({ length: N }, (_, i) => `ok-${i}`);
const no = Array.from({ length: N }, (_, i) => `no-${i}`);

async function time(channels) {
  const conn = hub.connect({ channels: [], principal: 'p' }, sink);
  const start = performance.now();
  const result = await conn.add(channels);
  const ms = performance.now() - start;
  conn.close();
  if (result.added.length + result.refused.length !== N) throw new Error('bench: unexpected result');
  return ms;
}
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const accepted = [];
const refused = [];
for (let r = 0; r < ROUNDS; r++) {
  accepted.push(await time(ok));
  refused.push(await time(no));
}
const a = median(accepted.slice(5));
const f = median(refused.slice(5));
console.log(
  `add ${N} accepted: ${a.toFixed(2)} ms   add ${N} refused: ${f.toFixed(2)} ms   ratio ${(f / a).toFixed(1)}×`,
);
await hub.close();
