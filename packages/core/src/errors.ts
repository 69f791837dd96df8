/**
 * Stable error codes. They travel on the wire (`{"error":{"code","message"}}`
 * and WS `result` envelopes), so a code, once published, is never renamed.
 */
export const ERROR_CODES = {
  unknown_command: { status: 404, close: 1008 },
  invalid_payload: { status: 400, close: 1007 },
  payload_too_large: { status: 413, close: 1009 },
  unsupported_media_type: { status: 415, close: 1003 },
  method_not_allowed: { status: 405, close: 1008 },
  unauthorized: { status: 401, close: 1008 },
  forbidden: { status: 403, close: 1008 },
  forbidden_origin: { status: 403, close: 1008 },
  /** The `Host` header names no host this server answers to (DNS rebinding defence). */
  forbidden_host: { status: 403, close: 1008 },
  /** No endpoint serves this path (HTTP 404; also the answer to an upgrade nobody handles). */
  not_found: { status: 404, close: 1008 },
  /** A resource is held by someone else: a GPIO line requested by another process (details name the consumer). */
  busy: { status: 409, close: 1013 },
  /** A board id is already connected by a live agent; the newcomer is refused (board link). */
  board_conflict: { status: 409, close: 1008 },
  too_many_clients: { status: 503, close: 1013 },
  /** A bound on channels was reached: per hub (creation), per connection or per principal (subscriptions). */
  too_many_channels: { status: 503, close: 1013 },
  too_many_requests: { status: 429, close: 1013 },
  board_offline: { status: 503, close: 1013 },
  /** The bus (Redis …) is unreachable: this instance is degraded and cannot publish or route commands. */
  bus_unavailable: { status: 503, close: 1013 },
  unsupported: { status: 422, close: 1008 },
  handler_failed: { status: 500, close: 1011 },
  timeout: { status: 504, close: 1011 },
  // Client-side conditions: never sent by a server, but surfaced with the
  // same error type so an app has one `catch` for everything.
  network_error: { status: 502, close: 1006 },
  /**
   * A WebSocket that never opened while the server answers plain HTTP at
   * its address: something in between (a reverse proxy without the
   * `Upgrade`/`Connection` headers) dropped the upgrade.
   */
  upgrade_failed: { status: 502, close: 1006 },
  closed: { status: 499, close: 1000 },
  queue_full: { status: 429, close: 1013 },
} as const satisfies Record<string, { status: number; close: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string };
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export class BoardcastError extends Error {
  override readonly name = 'BoardcastError';
  readonly code: ErrorCode;
  /** Extra machine-readable detail (validator issues, board id …); never sent unless the caller chooses to. */
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }

  /** HTTP status for this code. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  /** WebSocket close code for this code, when the error ends a connection. */
  get closeCode(): number {
    return ERROR_CODES[this.code].close;
  }

  toJSON(): ErrorBody['error'] {
    return { code: this.code, message: this.message };
  }

  /** The `{"error":{…}}` body used by HTTP responses. */
  toBody(): ErrorBody {
    return { error: this.toJSON() };
  }

  /**
   * Rebuild an error received over the wire. Unknown codes map to
   * `handler_failed` so a newer server cannot crash an older client.
   */
  static fromJSON(value: unknown): BoardcastError {
    if (value !== null && typeof value === 'object') {
      const { code, message } = value as { code?: unknown; message?: unknown };
      const text = typeof message === 'string' ? message : 'unknown error';
      return new BoardcastError(isErrorCode(code) ? code : 'handler_failed', text);
    }
    return new BoardcastError('handler_failed', 'malformed error');
  }
}

export function isBoardcastError(value: unknown): value is BoardcastError {
  return value instanceof BoardcastError;
}
