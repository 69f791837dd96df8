/**
 * Escaping for values that came from the network before they reach a log
 * line. A command name taken from a URL path, a `Last-Event-ID`, a board's
 * `firmware` string or an `Origin` may hold `\n` (from `%0A` in a path, or a
 * raw byte in a WebSocket frame): written as received, it starts a new,
 * forged log line. Core is the one place because every server package and
 * every app logs such values, and the rule must be the same everywhere. No
 * Node APIs: runs in browsers too.
 */

/** Default cap of {@link logSafe}'s output, in UTF-16 code units (before the truncation marker). */
export const LOG_SAFE_MAX_LENGTH = 200;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

/**
 * Characters that are not printed as themselves: C0/C1 controls and DEL
 * (`\p{Cc}`), format characters such as the bidi overrides U+202E and
 * U+2066–2069 that make a terminal or log viewer show text in another order
 * (`\p{Cf}`), U+2028/2029 (line and paragraph separators some viewers break
 * lines on) and lone surrogates (not valid UTF-8 in a log file).
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;

function escapeChar(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  if (!UNSAFE.test(char)) return char;
  const code = char.codePointAt(0) ?? 0;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/**
 * `value` as one printable log-line fragment: control, format and separator
 * characters shown as escapes (`\n`, `\r`, `\t`, `\x1b`, `\u{202e}`), a
 * backslash doubled so an escape in the input cannot pass for ours, and the
 * result capped at `maxLength` code units (default {@link LOG_SAFE_MAX_LENGTH},
 * 200) followed by `…(+N)` where N counts the input characters left out.
 * Non-strings are converted with `String()` first (`undefined` → `"undefined"`).
 * Never throws; the result contains no line break.
 */
export function logSafe(value: unknown, maxLength: number = LOG_SAFE_MAX_LENGTH): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  const cap = Number.isFinite(maxLength) && maxLength >= 0 ? Math.floor(maxLength) : LOG_SAFE_MAX_LENGTH;
  let out = '';
  let used = 0;
  // for…of walks code points, so a surrogate pair is escaped (or kept) whole.
  for (const char of text) {
    const escaped = escapeChar(char);
    if (out.length + escaped.length > cap) {
      return `${out}…(+${[...text.slice(used)].length})`;
    }
    out += escaped;
    used += char.length;
  }
  return out;
}
