/**
 * The status a server answers for `path` (appended to `base`) when the path
 * is one no route may crash on (bad percent-encoding, no such file): POST
 * `{}` as JSON when it names a command route (`/commands/`), GET otherwise.
 * The body is cancelled unread (a wrong 200 may be an endless event stream).
 */
export async function routeStatus(base: string, path: string): Promise<number> {
  const init: RequestInit = path.includes('/commands/')
    ? { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }
    : {};
  const res = await fetch(`${base.replace(/\/$/, '')}${path}`, init);
  await res.body?.cancel();
  return res.status;
}
