/**
 * One request to 127.0.0.1:`port` with a chosen `Host` header (fetch cannot
 * set Host), for DNS-rebinding tests: resolves with the status of the answer,
 * or of the handshake for a WebSocket upgrade that is accepted (101).
 */
import { request } from 'node:http';

export interface ProbeInit {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export function statusWithHost(port: number, host: string, path: string, init: ProbeInit = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: { ...init.headers, Host: host } },
      (res) => {
        resolve(res.statusCode ?? 0);
        res.destroy();
      },
    );
    // An accepted WebSocket upgrade never produces a 'response'.
    req.on('upgrade', (res, socket) => {
      resolve(res.statusCode ?? 0);
      socket.destroy();
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Headers of a WebSocket upgrade asking for `protocol`. */
export function upgradeHeaders(protocol: string): Record<string, string> {
  return {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Protocol': protocol,
  };
}
