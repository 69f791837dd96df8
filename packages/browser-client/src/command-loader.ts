import { BoardcastError } from '@boardcast/core';
import type { postCommand } from './http.js';

/**
 * `postCommand` of ./http.js, loaded on the first command: a page that only
 * watches never downloads the command code (about a third of the SSE
 * entry). The load counts against the command's `timeoutMs` (a link that
 * stalls while the module loads still settles in time, with `timeout`); a
 * load that fails rejects with `network_error`; a client closed meanwhile
 * rejects with `closed`.
 */
export const postCommandLazily: typeof postCommand = (url, input, timeoutMs, options, closed) => {
  const start = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(reject, timeoutMs, new BoardcastError('timeout', `command timed out after ${timeoutMs} ms`));
  });
  return Promise.race([import('./http.js'), late])
    .finally(() => clearTimeout(timer))
    .then(
      (http) =>
        closed.aborted
          ? Promise.reject(new BoardcastError('closed', 'client closed'))
          : http.postCommand(url, input, Math.max(0, timeoutMs - (Date.now() - start)), options, closed),
      (cause) => {
        throw cause instanceof BoardcastError
          ? cause
          : new BoardcastError('network_error', 'could not load the command code', { cause });
      },
    );
};
