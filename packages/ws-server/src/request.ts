import type { IncomingMessage } from 'node:http';
import type { BoardcastRequest } from '@boardcast/core';

/**
 * The upgrade request in core's transport-neutral shape, so one `authorize`
 * hook serves this endpoint and sse-server's alike.
 */
export function fromUpgrade(request: IncomingMessage, url: URL): BoardcastRequest<IncomingMessage> {
  return {
    method: request.method ?? 'GET',
    url,
    header: (name) => {
      const value = request.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    raw: request,
  };
}
