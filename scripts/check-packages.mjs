#!/usr/bin/env node
// publint + @arethetypeswrong/cli for every publishable package (run after `pnpm build`).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

let failed = false;
for (const name of readdirSync('packages')) {
  const dir = `packages/${name}`;
  if (!existsSync(`${dir}/package.json`)) continue;
  const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8'));
  if (pkg.private) continue;
  console.log(`\n== ${pkg.name}`);
  for (const [cmd, args] of [
    ['publint', ['--strict', dir]],
    ['attw', ['--pack', dir, '--profile', 'node16', '--format', 'ascii']],
  ]) {
    const run = spawnSync('pnpm', ['exec', cmd, ...args], { stdio: 'inherit' });
    if (run.status !== 0) {
      console.error(`!! ${cmd} failed for ${pkg.name}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
