#!/usr/bin/env node
// Every publishable package:
//  1. its README documents every value its root entry (`src/index.ts`) exports — a value
//     the README never names in code (a code block or an `inline span`) fails; move it
//     behind an internal entry or document it (runs on the sources, no build needed);
//  2. publint + @arethetypeswrong/cli on the built package (run after `pnpm build`).
//
// Usage: node scripts/check-packages.mjs [--exports-only]
//   --exports-only  step 1 only, and print each root's value/type export counts.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import ts from 'typescript';

const exportsOnly = process.argv.includes('--exports-only');

/**
 * The names a module exports, split into values and types, read from the
 * syntax alone (`export { a, type B } from`, `export type {…}`, `export
 * const/function/class/enum`, `export interface/type`, `export * from` followed).
 * @param {string} file
 * @param {Set<string>} [seen]
 * @returns {{ values: Set<string>, types: Set<string> }}
 */
export function rootExports(file, seen = new Set()) {
  const values = new Set();
  const types = new Set();
  if (seen.has(file)) return { values, types };
  seen.add(file);
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const exported = (node) => ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Export;
  for (const node of source.statements) {
    if (ts.isExportDeclaration(node)) {
      if (!node.exportClause) {
        // `export * from './x.js'`: follow it (a package specifier cannot be followed; count nothing).
        const spec = node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) ? node.moduleSpecifier.text : '';
        if (spec.startsWith('.')) {
          const inner = rootExports(resolve(dirname(file), spec.replace(/\.js$/, '.ts')), seen);
          for (const v of inner.values) (node.isTypeOnly ? types : values).add(v);
          for (const t of inner.types) types.add(t);
        }
        continue;
      }
      if (ts.isNamedExports(node.exportClause)) {
        for (const el of node.exportClause.elements) {
          (node.isTypeOnly || el.isTypeOnly ? types : values).add(el.name.text);
        }
      }
    } else if (
      (ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node) || ts.isEnumDeclaration(node)) &&
      exported(node) &&
      node.name
    ) {
      values.add(node.name.text);
    } else if (ts.isVariableStatement(node) && exported(node)) {
      for (const d of node.declarationList.declarations) if (ts.isIdentifier(d.name)) values.add(d.name.text);
    } else if ((ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) && exported(node)) {
      types.add(node.name.text);
    }
  }
  return { values, types };
}

/** The README's code: fenced blocks and inline `spans`, where an API name is written as code. */
function readmeCode(text) {
  const fenced = [...text.matchAll(/^(```|~~~)[^\n]*\n([\s\S]*?)^\1/gm)].map((m) => m[2]);
  const prose = text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1/gm, '');
  const inline = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
  return [...fenced, ...inline].join('\n');
}

let failed = false;
for (const name of readdirSync('packages').sort()) {
  const dir = `packages/${name}`;
  if (!existsSync(`${dir}/package.json`)) continue;
  const pkg = JSON.parse(readFileSync(`${dir}/package.json`, 'utf8'));
  if (pkg.private) continue;
  console.log(`\n== ${pkg.name}`);

  const { values, types } = rootExports(resolve(`${dir}/src/index.ts`));
  const code = existsSync(`${dir}/README.md`) ? readmeCode(readFileSync(`${dir}/README.md`, 'utf8')) : '';
  const undocumented = [...values].filter(
    (v) => !new RegExp(`(^|[^\\w$])${v.replace(/\$/g, '\\$')}(?![\\w$])`).test(code),
  );
  console.log(`root exports: ${values.size} values, ${types.size} types`);
  if (undocumented.length > 0) {
    console.error(
      `!! ${pkg.name}: ${undocumented.length} value(s) exported by src/index.ts that README.md never names in code: ` +
        `${undocumented.sort().join(', ')}\n   Document each (in a code block or \`inline code\`) or move it behind an internal entry.`,
    );
    failed = true;
  }
  if (exportsOnly) continue;

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
