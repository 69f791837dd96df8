import type { IncomingMessage } from 'node:http';
import type { BoardcastRequest } from '@boardcast/core';
import { createProxyTrust, type ProxyTrust, withClient } from '@boardcast/core/server';

const DIRECT = createProxyTrust(undefined);

/**
 * The upgrade request in core's transport-neutral shape, so one `authorize`
 * hook serves this endpoint and sse-server's alike; `clientAddress`, `host`
 * and `protocol` as `proxy` (the endpoint's `trustProxy`) resolves them.
 */
export function fromUpgrade(
  request: IncomingMessage,
  url: URL,
  proxy: ProxyTrust = DIRECT,
): BoardcastRequest<IncomingMessage> {
  const info: BoardcastRequest<IncomingMessage> = {
    method: request.method ?? 'GET',
    url,
    header: (name) => {
      const value = request.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    raw: request,
  };
  const socket = request.socket as (IncomingMessage['socket'] & { encrypted?: boolean }) | undefined;
  return withClient(info, proxy, { remoteAddress: socket?.remoteAddress, encrypted: socket?.encrypted === true });
}
