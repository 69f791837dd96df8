import { BoardcastError } from '@boardcast/core';
import { logSafe } from '@boardcast/core/server';

/**
 * Home Assistant's `value_template` is Jinja2; a discovered device's
 * template runs here without a Jinja engine, so only this subset is read
 * (whitespace inside `{{ }}` is free):
 *
 * | template | result |
 * |---|---|
 * | `{{ value }}` | the payload as it is |
 * | `{{ value_json.a.b }}`, `{{ value_json['a'].b[0] }}`, `{{ value_json["x y"] }}` | the JSON payload at that path (keys, quoted keys, integer indices) |
 * | any of those followed by filters `\| float`, `\| int`, `\| round(n)`, `\| lower`, `\| upper`, `\| string`, `\| trim` | the filtered value |
 *
 * A value renders as Jinja prints it: `True`/`False` for booleans, `None`
 * for null, JSON for objects and lists. A path the payload does not have
 * renders `undefined` (the message is not about this entity).
 *
 * Refused (the component is skipped, the reason reported): anything else —
 * statements (`{% %}`), text around or between `{{ }}`, conditionals (`if`/
 * `else`), arithmetic, comparisons, tests (`is defined`), other filters,
 * function calls (`states()`, `now()`), `this`, and `value_json` methods.
 */
export type ValueTemplate = (payload: string, topic: string) => string | undefined;

const FILTER = /^(float|int|lower|upper|string|trim|round(?:\(\s*(\d{1,2})\s*\))?)$/;

/** Jinja's `{{ x }}` output for a JSON value. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value === null) return 'None';
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value);
}

/** Parse `value_json.a['b'][0]` after `value_json` into path steps, or undefined when it is not a plain path. */
function parsePath(text: string): (string | number)[] | undefined {
  const steps: (string | number)[] = [];
  let rest = text;
  while (rest !== '') {
    const m =
      /^\.([A-Za-z_][A-Za-z0-9_]*)/.exec(rest) ??
      /^\[\s*'([^'\\]*)'\s*\]/.exec(rest) ??
      /^\[\s*"([^"\\]*)"\s*\]/.exec(rest) ??
      /^\[\s*(\d{1,6})\s*\]/.exec(rest);
    if (!m) return undefined;
    const key = m[1] as string;
    steps.push(m[0].startsWith('[') && /^\d+$/.test(key) && !/['"]/.test(m[0]) ? Number(key) : key);
    rest = rest.slice(m[0].length);
  }
  return steps;
}

function applyFilter(value: unknown, filter: string): unknown {
  const m = FILTER.exec(filter) as RegExpExecArray;
  const name = (m[1] as string).replace(/\(.*$/, '');
  const text = render(value);
  switch (name) {
    case 'float': {
      const n = Number.parseFloat(text);
      return Number.isFinite(n) ? n : 0; // Jinja's float filter: 0.0 for what it cannot read
    }
    case 'int': {
      const n = Number.parseInt(text, 10);
      return Number.isFinite(n) ? n : 0;
    }
    case 'round': {
      const n = typeof value === 'number' ? value : Number.parseFloat(text);
      const digits = m[2] === undefined ? 0 : Number(m[2]);
      return Number.isFinite(n) ? Number(n.toFixed(digits)) : value;
    }
    case 'lower':
      return text.toLowerCase();
    case 'upper':
      return text.toUpperCase();
    case 'trim':
      return text.trim();
    default:
      return text;
  }
}

/**
 * Compile a `value_template` of the supported subset, or throw
 * `BoardcastError` `unsupported` naming what is outside it. A compiled
 * template throws `invalid_payload` when it reads `value_json` from a
 * payload that is not JSON.
 */
export function compileValueTemplate(template: string): ValueTemplate {
  const refuse = (why: string) =>
    new BoardcastError(
      'unsupported',
      `value_template "${logSafe(template, 80)}" is outside the supported subset: ${why}`,
    );
  const m = /^\s*\{\{(.*)\}\}\s*$/s.exec(template);
  if (!m || (m[1] as string).includes('{{') || (m[1] as string).includes('}}')) {
    throw refuse('only one {{ expression }} and nothing around it');
  }
  const [head, ...filters] = (m[1] as string).split('|').map((part) => part.trim());
  for (const f of filters) if (!FILTER.test(f)) throw refuse(`filter "${f}"`);
  let steps: (string | number)[] | undefined;
  let json = false;
  if (head === 'value') steps = [];
  else if (head?.startsWith('value_json')) {
    json = true;
    steps = parsePath(head.slice('value_json'.length));
    if (!steps) throw refuse(`"${head}" is not a plain path into value_json`);
  } else throw refuse(`"${head}" is neither value nor value_json.<path>`);
  const path = steps;
  return (payload, topic) => {
    let value: unknown = payload;
    if (json) {
      try {
        value = JSON.parse(payload) as unknown;
      } catch (cause) {
        throw new BoardcastError('invalid_payload', `"${logSafe(payload, 40)}" on ${topic} is not JSON`, {
          cause,
          details: { topic },
        });
      }
      for (const step of path) {
        if (value === null || typeof value !== 'object' || !Object.hasOwn(value, step)) return undefined;
        value = (value as Record<string | number, unknown>)[step];
      }
    }
    for (const f of filters) value = applyFilter(value, f as string);
    return render(value);
  };
}
