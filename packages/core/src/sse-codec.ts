/**
 * Server-Sent Events framing (WHATWG HTML, "event stream interpretation").
 * Every function returns a complete block ending in a blank line, ready to be
 * written to any number of clients.
 */

const LINE_BREAK = /\r\n|\r|\n/;

function assertField(name: string, value: string): void {
  if (/[\r\n]/.test(value)) throw new TypeError(`SSE ${name} must not contain line breaks`);
  if (name === 'id' && value.includes('\0')) throw new TypeError('SSE id must not contain NUL');
}

export interface SseFrameFields {
  readonly id?: string | undefined;
  readonly event?: string | undefined;
  /** Sent as one `data:` line per line of text (CR, LF and CRLF all split). */
  readonly data: string;
  readonly retry?: number | undefined;
}

export function encodeSseFrame(fields: SseFrameFields): string {
  let out = '';
  if (fields.retry !== undefined) out += `retry: ${Math.max(0, Math.floor(fields.retry))}\n`;
  if (fields.id !== undefined) {
    assertField('id', fields.id);
    out += `id: ${fields.id}\n`;
  }
  if (fields.event !== undefined) {
    assertField('event', fields.event);
    out += `event: ${fields.event}\n`;
  }
  for (const line of fields.data.split(LINE_BREAK)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** `retry:` alone, sent first on a new stream. */
export function encodeSseRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.floor(ms))}\n\n`;
}

/** A comment line (keep-alive); comments never reach the page. */
export function encodeSseComment(text = ''): string {
  return text
    .split(LINE_BREAK)
    .map((line) => `:${line ? ` ${line}` : ''}\n`)
    .join('')
    .concat('\n');
}

/**
 * The snapshot block. It carries the id of the newest event it includes so a
 * browser's `EventSource` resumes from the right place after a reset.
 */
export function encodeSseSnapshot(stateJson: string, headId: string | undefined): string {
  return encodeSseFrame({ id: headId, event: 'snapshot', data: stateJson });
}

export function encodeSseReset(reason: string): string {
  return encodeSseFrame({ event: 'reset', data: JSON.stringify({ reason }) });
}

/** Reserved event name of the keep-alive frame (contracts may not use it). */
export const SSE_KEEPALIVE_EVENT = 'keepalive';

/**
 * The keep-alive frame: sent right after `retry:` on every new stream and
 * then every `intervalMs`, instead of a `: ping` comment, so the client
 * learns the period and can notice a silent link (missing frames). No `id:`,
 * so it never moves the browser's Last-Event-ID. `intervalMs` 0 means the
 * server sends none after the first.
 */
export function encodeSseKeepAlive(intervalMs: number): string {
  return `event: ${SSE_KEEPALIVE_EVENT}\ndata: {"intervalMs":${Math.max(0, Math.floor(intervalMs))}}\n\n`;
}

/**
 * Event name of the server status frame ({@link ServerStatus}). A contract
 * event name starts with a letter, so `~status` never collides with one.
 */
export const SSE_STATUS_EVENT = '~status';

/**
 * The server status frame, `event: ~status` / `data: {"bus":"degraded"}`.
 * No `id:`, so it never moves the browser's Last-Event-ID.
 */
export function encodeSseStatus(statusJson: string): string {
  return encodeSseFrame({ event: SSE_STATUS_EVENT, data: statusJson });
}
