import type { IncomingMessage } from 'node:http';
import { BoardcastError } from '@boardcast/core';
import { fromFetchRequest, fromNodeRequest } from '@boardcast/core/server';
import { parseJsonStrict } from '@boardcast/core/wire';

const decoder = new TextDecoder('utf-8', { fatal: true });

function tooLarge(limit: number): BoardcastError {
  return new BoardcastError('payload_too_large', `request body is larger than ${limit} bytes`);
}

function decode(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new BoardcastError('invalid_payload', 'request body is not valid UTF-8');
  }
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

type NodeRequestWithBody = IncomingMessage & { body?: unknown };

/**
 * A body a framework's parser already produced (express.json() puts it on
 * `req.body`, Fastify on `request.body`), as text again, so it still goes
 * through the strict parser and the byte limit.
 */
export function parsedBodyText(parsed: unknown, limit: number): string {
  let text: string;
  if (typeof parsed === 'string') text = parsed;
  else if (parsed instanceof Uint8Array) text = decode(parsed);
  else text = parsed === undefined ? '' : (JSON.stringify(parsed) ?? '');
  if (text.length > limit || new TextEncoder().encode(text).byteLength > limit) throw tooLarge(limit);
  return text;
}

/**
 * Read a Node request body, refusing it as soon as it passes `limit` bytes
 * (the rest is never buffered). A body already consumed by a framework's
 * parser (express.json()) is re-serialized so it still goes through the
 * strict parser.
 */
export function readNodeBody(req: IncomingMessage, limit: number): Promise<string> {
  if (req.readableEnded) {
    try {
      return Promise.resolve(parsedBodyText((req as NodeRequestWithBody).body, limit));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        cleanup();
        chunks.length = 0;
        // Node discards the unread rest after the response is sent.
        req.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      try {
        resolve(decode(concat(chunks, size)));
      } catch (error) {
        reject(error);
      }
    };
    const onError = (error: unknown) => {
      cleanup();
      reject(new BoardcastError('invalid_payload', 'request body could not be read', { cause: error }));
    };
    const onClose = () => {
      cleanup();
      reject(new BoardcastError('closed', 'request closed before its body was read'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Read a Fetch request body with the same limit, cancelling the stream once it is passed. */
export async function readFetchBody(request: Request, limit: number): Promise<string> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        reader.cancel().catch(() => undefined);
        throw tooLarge(limit);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof BoardcastError) throw error;
    throw new BoardcastError('invalid_payload', 'request body could not be read', { cause: error });
  } finally {
    reader.releaseLock();
  }
  return decode(concat(chunks, size));
}

/** The declared length, when it already tells us the body is too large. */
export function declaredTooLarge(contentLength: string | undefined, limit: number): boolean {
  if (contentLength === undefined) return false;
  const length = Number(contentLength);
  return Number.isFinite(length) && length > limit;
}

export interface JsonBodyOptions {
  /** Largest accepted body in bytes (default 65536). */
  readonly maxBytes?: number;
  /** What the body is, for error messages (default `the body`). */
  readonly what?: string;
}

/** Where a body comes from: its headers and a reader that enforces the limit. */
export interface BodySource {
  header(name: string): string | undefined;
  read(limit: number): Promise<string>;
}

/**
 * The command endpoint's body rules, for any JSON route: `application/json`
 * only (415 `unsupported_media_type` — a cross-site form cannot send it),
 * a byte limit checked on the declared length and while reading (413
 * `payload_too_large`, the rest never buffered), UTF-8 and strict JSON with
 * `__proto__`/`constructor`/`prototype` refused (400 `invalid_payload`). An
 * empty body is `null`. Throws only `BoardcastError`.
 */
export async function readJsonFrom(source: BodySource, options: JsonBodyOptions = {}): Promise<unknown> {
  const limit = options.maxBytes ?? 65_536;
  const what = options.what ?? 'the body';
  const mediaType = (source.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new BoardcastError('unsupported_media_type', `send ${what} as application/json`);
  }
  if (declaredTooLarge(source.header('content-length'), limit)) throw tooLarge(limit);
  const text = await source.read(limit);
  if (text.trim() === '') return null;
  try {
    return parseJsonStrict(text);
  } catch (error) {
    if (error instanceof BoardcastError) throw error;
    throw new BoardcastError('invalid_payload', `${what} is not valid JSON`);
  }
}

/**
 * {@link readJsonFrom} for a node:http request or a Fetch `Request`. After a
 * refusal a Node request's body may be left unread: answer it with
 * `Connection: close` so the rest is never parsed as the next request.
 */
export function readJsonBody(request: IncomingMessage | Request, options: JsonBodyOptions = {}): Promise<unknown> {
  if (request instanceof Request) {
    const { header } = fromFetchRequest(request);
    return readJsonFrom({ header, read: (limit) => readFetchBody(request, limit) }, options);
  }
  const { header } = fromNodeRequest(request);
  return readJsonFrom({ header, read: (limit) => readNodeBody(request, limit) }, options);
}
