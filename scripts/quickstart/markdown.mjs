// Code blocks of a README, as files of a user's app.
//
// Every ```ts block becomes a file. An HTML comment on the line just before
// the fence (invisible on GitHub and npm) says which file it is and how it is
// used; several `key: value` parts are separated by `;`:
//
//   <!-- file: contract.ts -->                the block is ./contract.ts of the app
//   <!-- file: server.ts; run: node -->       ... and the check runs it with Node
//   <!-- file: page.ts; run: browser -->      ... and bundles it for Chromium and clicks it
//   <!-- continues: server.ts -->             a fragment that goes on from that block
//                                             (checked appended to a copy of it)
//   <!-- assumes: declare const token: () => string -->
//                                             names what the reader supplies (prepended)
//   <!-- links: contract.ts = core/contract.ts -->
//                                             a file this block imports that another README
//                                             shows (its folder: core, sse-server, root, …)
//   <!-- unchecked: why -->                   not checked; counted and listed
//
// `assumes` and `unchecked` take the rest of the comment, which may span lines.
//
// A block whose first line is a comment naming a file (`// contract.ts`) is that file, as
// if annotated. Without either a block is its own module, named block<line>.ts. In the
// root README a block importing @boardcast/browser-client is taken as the page
// and a block calling .listen( as the server, so the quick start is run even
// when its comments are edited away.

import { readFileSync } from 'node:fs';

/**
 * @typedef {object} Block
 * @property {string} readme    path of the README, relative to the repository
 * @property {number} line      1-based line of the block's first code line
 * @property {string} lang      fence info string (first word)
 * @property {string} code
 * @property {Record<string, string>} notes  the annotation's key/value parts
 */

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/;
const KEYS = /^\s*(file|continues|run|links|assumes|unchecked)\s*:\s*/;

/** `key: value; key: value` — `assumes` and `unchecked` take the rest of the comment (it may hold `;`). */
function parseNote(text) {
  const notes = {};
  let rest = text;
  for (let m = KEYS.exec(rest); m; m = KEYS.exec(rest)) {
    rest = rest.slice(m[0].length);
    const end = m[1] === 'assumes' || m[1] === 'unchecked' ? -1 : rest.indexOf(';');
    notes[m[1]] = (end < 0 ? rest : rest.slice(0, end)).trim();
    rest = end < 0 ? '' : rest.slice(end + 1);
  }
  return notes;
}

/** @returns {Block[]} every fenced block of the file, annotated or not. */
export function readBlocks(readme) {
  const lines = readFileSync(readme, 'utf8').split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const fence = open[2];
    let end = i + 1;
    while (end < lines.length && !lines[end].trimStart().startsWith(fence)) end++;
    // The annotation: an HTML comment (one or more lines) just before the fence.
    let j = i - 1;
    while (j >= 0 && lines[j].trim() === '') j--;
    let notes = {};
    if (j >= 0 && lines[j].trimEnd().endsWith('-->')) {
      let k = j;
      while (k > 0 && !lines[k].includes('<!--')) k--;
      const comment = lines.slice(k, j + 1).join('\n');
      const body = /<!--([\s\S]*?)-->\s*$/.exec(comment)?.[1] ?? '';
      if (KEYS.test(body)) notes = parseNote(body);
    }
    blocks.push({
      readme,
      line: i + 2,
      lang: open[3].toLowerCase(),
      code: lines.slice(i + 1, end).join('\n'),
      notes,
    });
    i = end;
  }
  return blocks;
}

export const isTs = (block) => block.lang === 'ts' || block.lang === 'typescript';

/** Every `npm install …` / `npm i …` a README's shell blocks tell a user to run: the package names. */
export function installsIn(blocks) {
  const names = new Set();
  for (const block of blocks) {
    if (!['sh', 'bash', 'shell', 'console'].includes(block.lang)) continue;
    for (const line of block.code.split('\n')) {
      const m = /(?:^|&&|;)\s*(?:\$\s*)?npm\s+(?:install|i|add)\s+([^#&;]*)/.exec(line);
      if (!m || /(?:^|\s)(?:-g|--global)(?:\s|$)/.test(m[1])) continue; // a global tool, not the app's
      for (const word of m[1].trim().split(/\s+/)) if (word && !word.startsWith('-')) names.add(word);
    }
  }
  return [...names];
}
