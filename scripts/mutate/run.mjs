#!/usr/bin/env node
// `pnpm mutate [target …]`: Stryker (mutation testing) over the targets of
// targets.mjs — all of them by default — then the score per file. A score is
// (killed + timed out) / (killed + timed out + survived + no coverage), as
// Stryker counts it. Survivors are listed in reports/mutation/<target>-survivors.txt
// (file:line, mutator, replacement) for the note that says why each is left.
// Slow (tens of minutes on two cores): not part of .ci/run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TARGETS } from './targets.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const config = fileURLToPath(new URL('./stryker.config.mjs', import.meta.url));
const stryker = `${root}node_modules/.bin/stryker`;
const args = process.argv.slice(2).filter((a) => a !== '--');
const reportOnly = args.includes('--report-only');
const names = args.filter((a) => !a.startsWith('--'));
for (const name of names)
  if (!TARGETS[name]) throw new Error(`unknown target "${name}"; one of ${Object.keys(TARGETS).join(', ')}`);
const chosen = names.length > 0 ? names : Object.keys(TARGETS);
mkdirSync(`${root}reports/mutation`, { recursive: true });

const DETECTED = new Set(['Killed', 'Timeout']);
const VALID = new Set(['Killed', 'Timeout', 'Survived', 'NoCoverage']);
const pct = (d, v) => (v === 0 ? '  n/a' : `${((100 * d) / v).toFixed(1).padStart(5)}`);

let failed = false;
for (const name of chosen) {
  const target = TARGETS[name];
  const started = Date.now();
  if (!reportOnly) {
    console.log(`\n== mutate ${name} (${target.dir}: ${target.mutate.join(' ')})`);
    const run = spawnSync(stryker, ['run', config], {
      cwd: `${root}${target.dir}`,
      env: { ...process.env, MUTATE_TARGET: name },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (run.status !== 0) {
      console.error(`!! stryker failed for ${name} (exit ${run.status})`);
      failed = true;
      continue;
    }
  }
  const reportFile = `${root}reports/mutation/${name}.json`;
  if (!existsSync(reportFile)) {
    console.error(`!! no report for ${name}`);
    failed = true;
    continue;
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  const rows = [];
  const survivors = [];
  let detected = 0;
  let valid = 0;
  for (const [file, { mutants }] of Object.entries(report.files).sort()) {
    const d = mutants.filter((m) => DETECTED.has(m.status)).length;
    const v = mutants.filter((m) => VALID.has(m.status)).length;
    detected += d;
    valid += v;
    rows.push(
      `${pct(d, v)} %  ${String(d).padStart(4)} / ${String(v).padEnd(4)} ` +
        `(survived ${mutants.filter((m) => m.status === 'Survived').length}, no coverage ${mutants.filter((m) => m.status === 'NoCoverage').length})  ${file}`,
    );
    for (const m of mutants.filter((x) => x.status === 'Survived' || x.status === 'NoCoverage')) {
      survivors.push(
        `${file}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName}: ${JSON.stringify(m.replacement ?? '')}`,
      );
    }
  }
  writeFileSync(`${root}reports/mutation/${name}-survivors.txt`, `${survivors.join('\n')}\n`);
  console.log(
    `\n== mutation score, ${name}${reportOnly ? '' : ` (${((Date.now() - started) / 60_000).toFixed(1)} min)`}`,
  );
  for (const row of rows) console.log(row);
  console.log(`${pct(detected, valid)} %  ${String(detected).padStart(4)} / ${valid}  all of ${name}`);
}
process.exit(failed ? 1 : 0);
