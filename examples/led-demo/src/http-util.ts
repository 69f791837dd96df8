import type { IncomingMessage, ServerResponse } from 'node:http';
import { BoardcastError, parseJsonStrict } from '@boardcast/core';

/** Send `{"error":{code,message}}` with the code's status. */
export function sendError(res: ServerResponse, error: BoardcastError, headers: Record<string, string> = {}): void {
  sendJson(res, error.status, error.toBody(), headers);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Read a small JSON body with the same rules as the command endpoint:
 * POST only, `application/json` only (a cross-site form cannot send it),
 * a byte limit, strict parsing.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  if (req.method !== 'POST') throw new BoardcastError('method_not_allowed', 'use POST');
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new BoardcastError('unsupported_media_type', 'Content-Type must be application/json');
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw new BoardcastError('payload_too_large', `body exceeds ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      req.resume();
      throw new BoardcastError('payload_too_large', `body exceeds ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  try {
    return parseJsonStrict(Buffer.concat(chunks).toString('utf8'));
  } catch (error) {
    if (error instanceof BoardcastError) throw error;
    throw new BoardcastError('invalid_payload', 'body is not valid JSON');
  }
}
