import { BoardcastError, ERROR_CODES, type ErrorCode } from '@boardcast/core';

/** Headers sent with the SSE request (fetch mode) and with every HTTP command. */
export type HeaderSource = Record<string, string> | (() => Record<string, string>);

export interface HttpOptions {
  readonly headers?: HeaderSource | undefined;
  /** `fetch` credentials mode; `include` also sets `withCredentials` on a native EventSource. */
  readonly credentials?: RequestCredentials | undefined;
  /** The `fetch` to use (default `globalThis.fetch`). */
  readonly fetch?: typeof fetch | undefined;
}

export function headersOf(options: HttpOptions): Record<string, string> {
  const h = options.headers;
  return typeof h === 'function' ? h() : { ...h };
}

export function fetchOf(options: HttpOptions): typeof fetch {
  return options.fetch ?? ((input, init) => fetch(input, init));
}

export function networkError(cause: unknown, message = 'network request failed'): BoardcastError {
  return cause instanceof BoardcastError ? cause : new BoardcastError('network_error', message, { cause });
}

/**
 * The error a non-success response stands for: the server's own
 * `{"error":{"code","message"}}` when it sent one, else the first code whose
 * HTTP status matches (so a proxy's bare 401 still reads as `unauthorized`).
 */
export async function responseError(response: Response): Promise<BoardcastError> {
  try {
    const body = (await response.json()) as { error?: unknown };
    if (body?.error) return BoardcastError.fromJSON(body.error);
  } catch {
    // not JSON: fall through to the status
  }
  // A bare 404 is a path nobody serves (`not_found`), not the first 404 code in the table (`unknown_command`).
  const code =
    response.status === 404
      ? 'not_found'
      : (Object.keys(ERROR_CODES) as ErrorCode[]).find((c) => ERROR_CODES[c].status === response.status);
  return new BoardcastError(code ?? 'handler_failed', `HTTP ${response.status}`);
}

/** `POST <base>/<name>` with a JSON body, settled within `timeoutMs`. */
export async function postCommand(
  url: string,
  input: unknown,
  timeoutMs: number,
  options: HttpOptions,
  closed: AbortSignal,
): Promise<unknown> {
  const controller = new AbortController();
  const abort = () => controller.abort();
  const timer = setTimeout(abort, timeoutMs);
  closed.addEventListener('abort', abort);
  try {
    let body: string;
    try {
      body = JSON.stringify(input ?? null);
    } catch (cause) {
      throw new BoardcastError('invalid_payload', 'command input is not JSON-serializable', { cause });
    }
    const response = await fetchOf(options)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headersOf(options) },
      credentials: options.credentials,
      body,
      signal: controller.signal,
    });
    if (!response.ok) throw await responseError(response);
    const text = await response.text();
    return text ? JSON.parse(text) : undefined;
  } catch (error) {
    if (closed.aborted) throw new BoardcastError('closed', 'client closed');
    if (controller.signal.aborted) throw new BoardcastError('timeout', `command timed out after ${timeoutMs} ms`);
    throw error instanceof SyntaxError
      ? new BoardcastError('invalid_payload', 'result is not JSON')
      : networkError(error);
  } finally {
    clearTimeout(timer);
    closed.removeEventListener('abort', abort);
  }
}
