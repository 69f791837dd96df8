import { request } from 'node:http';
import { text } from 'node:stream/consumers';
import { onTestFinished } from 'vitest';

/** What a server answered: the status, and the `error.code` of a JSON error body (undefined for any other body). */
export interface StatusAndCode {
  status: number;
  code: string | undefined;
}

export interface StatusAndCodeOptions {
  /** GET unless given. */
  method?: string;
  body?: string;
  /** The address the connection comes from: 127.0.0.2 plays a client that is not the proxy at 127.0.0.1. */
  localAddress?: string;
  /** A body that is not JSON rejects (for routes that answer nothing else) instead of giving `code: undefined`. */
  jsonOnly?: boolean;
  /**
   * An event stream (`text/event-stream`) resolves at its head with `code: undefined` and stays
   * open until the test ends (call inside a test); without this, every body is read to its end.
   */
  keepStreams?: boolean;
}

/** A request to `path` on 127.0.0.1:`port` over a connection of its own (no agent); resolves with what the server answered. */
export function statusAndCode(
  port: number | undefined,
  path: string,
  headers: Record<string, string>,
  options: StatusAndCodeOptions = {},
): Promise<StatusAndCode> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers,
        localAddress: options.localAddress,
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (options.keepStreams && res.headers['content-type']?.startsWith('text/event-stream')) {
          onTestFinished(() => {
            res.destroy();
          });
          resolve({ status, code: undefined });
          return;
        }
        text(res)
          .then((body) => ({ status, code: errorCode(body, options.jsonOnly ?? false) }))
          .then(resolve, reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function errorCode(body: string, jsonOnly: boolean): string | undefined {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
  } catch (error) {
    if (jsonOnly) throw error;
    return undefined;
  }
}
