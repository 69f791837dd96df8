/**
 * Resolve `path` below `base`: `('/api', '/events')` → `<origin>/api/events`.
 * Relative bases resolve against the page; in Node they must be absolute.
 */
export function endpoint(base: string, path: string, override?: string): URL {
  const href = override ?? base.replace(/\/+$/, '') + path;
  return new URL(href, (globalThis as { location?: { href: string } }).location?.href);
}

/** Append the resume id and the event filter, the query every transport understands. */
export function withQuery(url: URL, params: Record<string, string | undefined>): string {
  const copy = new URL(url);
  for (const [key, value] of Object.entries(params)) if (value) copy.searchParams.set(key, value);
  return copy.href;
}
