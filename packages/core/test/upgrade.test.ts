import { afterEach, describe, expect, it, vi } from 'vitest';
import { type UpgradeSocketLike, upgradeRegistry } from '../src/server.js';

/** The smallest server the registry accepts: duck-typed, no Node classes. */
class FakeServer {
  readonly listeners: Array<(request: { url?: string }, socket: FakeSocket, head: null) => void> = [];
  on(_event: 'upgrade', listener: (request: { url?: string }, socket: FakeSocket, head: null) => void) {
    this.listeners.push(listener);
  }
  removeListener(_event: 'upgrade', listener: (request: { url?: string }, socket: FakeSocket, head: null) => void) {
    this.listeners.splice(this.listeners.indexOf(listener), 1);
  }
  listenerCount() {
    return this.listeners.length;
  }
  upgrade(url: string, socket: FakeSocket) {
    for (const listener of [...this.listeners]) listener({ url }, socket, null);
  }
}

class FakeSocket implements UpgradeSocketLike {
  destroyed = false;
  writable = true;
  bytesWritten = 0;
  written = '';
  readonly #once = new Map<string, () => void>();
  end(data: string) {
    this.written += data;
    this.bytesWritten += data.length;
    this.writable = false;
    this.#once.get('finish')?.();
  }
  destroy() {
    this.destroyed = true;
    this.#once.get('close')?.();
  }
  on() {}
  once(event: 'finish' | 'close', listener: () => void) {
    this.#once.set(event, listener);
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('upgrade registry (duck-typed, no Node APIs)', () => {
  it('routes a registered path and answers every other one 404 not_found, then closes it', () => {
    const server = new FakeServer();
    const registry = upgradeRegistry(server);
    const seen: string[] = [];
    const off = registry.register({ path: '/ws', handle: (request) => seen.push(request.url ?? '') });
    const ours = new FakeSocket();
    server.upgrade('/ws?lastEventId=1', ours);
    expect(seen).toEqual(['/ws?lastEventId=1']);
    expect(ours.written).toBe('');
    const stray = new FakeSocket();
    server.upgrade('/nope', stray);
    expect(stray.written).toMatch(/^HTTP\/1\.1 404 Not Found\r\nConnection: close\r\n/);
    expect(stray.written).toContain('{"error":{"code":"not_found"');
    expect(stray.destroyed).toBe(true);
    expect(registry.refused).toBe(1);
    off();
    expect(server.listenerCount()).toBe(0);
  });

  it('leaves unmatched upgrades to another listener, answering those it has not touched in time or at the last unregister', () => {
    vi.useFakeTimers();
    const server = new FakeServer();
    const registry = upgradeRegistry(server);
    const off = registry.register({ path: (pathname) => pathname.startsWith('/board/'), handle: () => undefined });
    server.on('upgrade', (request, socket) => {
      if (request.url === '/theirs') socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\n');
    });
    const theirs = new FakeSocket();
    const untouched = new FakeSocket();
    const late = new FakeSocket();
    server.upgrade('/theirs', theirs);
    server.upgrade('/untouched', untouched);
    expect(registry.watching).toBe(2);
    vi.advanceTimersByTime(registry.unhandledTimeoutMs);
    expect(theirs.written).toBe('HTTP/1.1 101 Switching Protocols\r\n\r\n');
    expect(untouched.written).toMatch(/^HTTP\/1\.1 404 /);
    server.upgrade('/late', late);
    off();
    expect(late.written).toMatch(/^HTTP\/1\.1 404 /);
    expect(registry.watching).toBe(0);
  });

  it('refuses a second route with the same exact path', () => {
    const server = new FakeServer();
    const off = upgradeRegistry(server).register({ path: '/ws', handle: () => undefined });
    expect(() => upgradeRegistry(server).register({ path: '/ws', handle: () => undefined })).toThrow(TypeError);
    off();
  });
});
