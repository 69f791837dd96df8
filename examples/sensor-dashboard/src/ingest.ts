import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BoardcastError, DEFAULT_CHANNEL, isChannelId, validateEntry } from '@boardcast/core';
import { readJsonBody } from '@boardcast/sse-server';
import { type ReadingInput, readingInput, readingsBatch } from './contract.js';
import type { DashboardHub } from './dashboard-hub.js';

export interface IngestOptions {
  /** When set, every request needs `Authorization: Bearer <token>`. */
  readonly token?: string | undefined;
  /** Largest accepted body in bytes (default 65536). */
  readonly maxBodyBytes?: number;
}

const JSON_HEADERS = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' };

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...JSON_HEADERS, ...headers });
  res.end(JSON.stringify(body));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Compare digests so neither the token's content nor its length leaks through timing. */
function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match !== null && timingSafeEqual(digest(match[1] ?? ''), digest(token));
}

/**
 * `POST /api/readings` with one `{sensor, value, at?}` or an array of them.
 * Answers 200 `{"accepted":n}` or the error's status with
 * `{"error":{"code","message"}}`; on any error nothing is stored.
 */
export function createIngestHandler(dashboard: DashboardHub, options: IngestOptions = {}) {
  const limit = options.maxBodyBytes ?? 65_536;
  const token = options.token || undefined;

  const run = async (req: IncomingMessage): Promise<{ accepted: number }> => {
    if (req.method !== 'POST') {
      throw new BoardcastError(
        'method_not_allowed',
        'send readings with POST and a JSON body; a GET that stores data can be triggered by any web page and cached by proxies',
      );
    }
    if (token && !tokenMatches(req.headers.authorization, token)) {
      throw new BoardcastError('unauthorized', 'missing or wrong bearer token');
    }
    // `?device=<id>`: whose readings these are (a channel id; none: the default device).
    const device = new URL(req.url ?? '/', 'http://localhost').searchParams.get('device') ?? DEFAULT_CHANNEL;
    if (!isChannelId(device)) {
      throw new BoardcastError(
        'invalid_payload',
        `device: ${JSON.stringify(String(device).slice(0, 40))} is not a device id (letters, digits, then also _ . : -; at most 128)`,
      );
    }
    // Only JSON: text/plain and form bodies can be sent cross-site without a preflight.
    const raw = await readJsonBody(req, { maxBytes: limit, what: 'readings' });
    // Pick the branch of `readingsBody` by shape, so the error names the bad field ("2.value: …").
    const readings = Array.isArray(raw)
      ? await validateEntry<ReadingInput[]>(readingsBatch, raw, 'batch')
      : [await validateEntry<ReadingInput>(readingInput, raw, 'reading')];
    return { accepted: dashboard.accept(readings, 'device', device).length };
  };

  return (req: IncomingMessage, res: ServerResponse): void => {
    run(req).then(
      (result) => send(res, 200, result),
      (error: unknown) => {
        const failure =
          error instanceof BoardcastError ? error : new BoardcastError('handler_failed', 'could not store readings');
        if (!(error instanceof BoardcastError)) dashboard.hub.emit('error', error, 'ingest');
        const headers: Record<string, string> = {};
        if (failure.code === 'method_not_allowed') headers.Allow = 'POST';
        if (failure.code === 'unauthorized') headers['WWW-Authenticate'] = 'Bearer';
        // Drain what the client is still sending so it can read our answer instead of a reset.
        if (!req.readableEnded) {
          headers.Connection = 'close';
          req.resume();
        }
        send(res, failure.status, failure.toBody(), headers);
      },
    );
  };
}
