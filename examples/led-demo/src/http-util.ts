import type { ServerResponse } from 'node:http';
import type { BoardcastError } from '@boardcast/core';

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
