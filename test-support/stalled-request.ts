import { connect } from 'node:net';
import { onTestFinished } from 'vitest';

/** What a server did with a request cut short: what it answered before it closed the connection. */
export interface Stalled {
  answer: string;
}

/**
 * Sends `partial` (a request cut short: part of its headers, or of its body)
 * on a raw connection to 127.0.0.1:`port`, as a slow client would, and waits
 * until the server closes it. Call inside a test: the socket is destroyed
 * when the test ends, however it ends.
 */
export function stallRequest(port: number, partial: string): Promise<Stalled> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      let answer = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        answer += chunk;
      });
      socket.on('close', () => resolve({ answer }));
      socket.write(partial);
    });
    onTestFinished(() => {
      socket.destroy();
    });
    // Only a failure to connect fails the call: a reset after that ends the
    // connection like a close does ('close' follows 'error'), with what came.
    socket.on('error', (error) => {
      if (socket.connecting) reject(error);
    });
  });
}
