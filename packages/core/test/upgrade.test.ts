// The upgrade registry's routing, and refuseUpgrade's response and socket
// handling. Duck-typed doubles: the registry is written against them, no
// Node classes.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { armedTimers } from '../../../test-support/armed-timers.js';
import { BoardcastError } from '../src/index.js';
import { refuseUpgrade, registerUpgrade, type UpgradeSocketLike, upgradeRegistry } from '../src/server.js';

type Listener = (request: { url?: string }, socket: FakeSocket, head: null) => void;

/** Keeps listeners per event name, as node:http's server does, so a listener on another event is never an upgrade listener. */
class FakeServer {
  readonly events = new Map<string, Listener[]>();
  on(event: string, listener: Listener) {
    this.events.set(event, [...(this.events.get(event) ?? []), listener]);
  }
  removeListener(event: string, listener: Listener) {
    const listeners = this.events.get(event) ?? [];
    const at = listeners.indexOf(listener);
    if (at >= 0) listeners.splice(at, 1);
  }
  listenerCount(event: string) {
    return this.events.get(event)?.length ?? 0;
  }
  upgrade(url: string | undefined, socket: FakeSocket) {
    for (const listener of [...(this.events.get('upgrade') ?? [])]) {
      listener(url === undefined ? {} : { url }, socket, null);
    }
  }
}

/** A socket that records what is done to it; `end` finishes only when `autoFinish`. */
class FakeSocket implements UpgradeSocketLike {
  destroyed = false;
  writable = true;
  bytesWritten = 0;
  written = '';
  destroyCalls = 0;
  errorListeners = 0;
  readonly once_ = new Map<string, Array<() => void>>();
  constructor(readonly autoFinish = true) {}
  end(data: string) {
    this.written += data;
    this.bytesWritten += data.length;
    this.writable = false;
    if (this.autoFinish) this.fire('finish');
  }
  destroy() {
    this.destroyCalls++;
    if (this.destroyed) return;
    this.destroyed = true;
    this.fire('close');
  }
  on(event: 'error') {
    if (event === 'error') this.errorListeners++;
  }
  once(event: 'finish' | 'close', listener: () => void) {
    this.once_.set(event, [...(this.once_.get(event) ?? []), listener]);
  }
  fire(event: string) {
    const listeners = this.once_.get(event) ?? [];
    this.once_.delete(event);
    for (const listener of listeners) listener();
  }
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** From now on setTimeout returns a plain number, as outside Node (no `unref`); the timers still run and clear. */
function numericTimers(): void {
  const real = globalThis.setTimeout;
  vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms: number) =>
    Number(real(fn, ms))) as unknown as typeof setTimeout);
}

/** A socket refused with 404 whose peer has not read the answer yet (its `finish` is still to come). */
function refusedUnread(): FakeSocket {
  const socket = new FakeSocket(false);
  refuseUpgrade(socket, new BoardcastError('not_found', 'x'));
  return socket;
}

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
    expect(stray.written).toContain('{"error":{"code":"not_found","message":"no WebSocket endpoint at this path"}}');
    expect(stray.destroyed).toBe(true);
    expect(registry.refused).toBe(1);
    off();
    expect(server.listenerCount('upgrade')).toBe(0);
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

describe('refuseUpgrade', () => {
  it('writes a complete HTTP/1.1 response: status line, extra headers, JSON type and byte length', () => {
    const socket = new FakeSocket();
    const error = new BoardcastError('too_many_requests', 'slow down: 5 per minute — héé');
    refuseUpgrade(socket, error, undefined, { 'Retry-After': '30', 'X-Trace': 'a' });
    const body = '{"error":{"code":"too_many_requests","message":"slow down: 5 per minute — héé"}}';
    expect(socket.written).toBe(
      'HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nRetry-After: 30\r\nX-Trace: a\r\n' +
        `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    expect(Buffer.byteLength(body)).toBeGreaterThan(body.length);
    expect(socket.errorListeners).toBe(1);
    expect(socket.destroyed).toBe(true);
  });

  it('uses the status it is given, and "Error" as the reason of a status it has no text for', () => {
    const given = new FakeSocket();
    refuseUpgrade(given, new BoardcastError('forbidden', 'no'), 400);
    expect(given.written).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    const odd = new FakeSocket();
    refuseUpgrade(odd, new BoardcastError('forbidden', 'no'), 418);
    expect(odd.written).toMatch(/^HTTP\/1\.1 418 Error\r\n/);
  });

  it.each([
    [401, 'Unauthorized'],
    [403, 'Forbidden'],
    [404, 'Not Found'],
    [405, 'Method Not Allowed'],
    [409, 'Conflict'],
    [413, 'Payload Too Large'],
    [415, 'Unsupported Media Type'],
    [422, 'Unprocessable Entity'],
    [500, 'Internal Server Error'],
    [503, 'Service Unavailable'],
    [504, 'Gateway Timeout'],
  ])('gives status %i its reason phrase %j', (status, text) => {
    const socket = new FakeSocket();
    refuseUpgrade(socket, new BoardcastError('handler_failed', 'x'), status);
    expect(socket.written.startsWith(`HTTP/1.1 ${status} ${text}\r\n`)).toBe(true);
  });

  it('only destroys a socket that is already destroyed or no longer writable', () => {
    const gone = new FakeSocket();
    gone.destroyed = true;
    refuseUpgrade(gone, new BoardcastError('not_found', 'x'));
    expect(gone.written).toBe('');
    expect(gone.destroyCalls).toBe(1);
    const closing = new FakeSocket();
    closing.writable = false;
    refuseUpgrade(closing, new BoardcastError('not_found', 'x'));
    expect(closing.written).toBe('');
    expect(closing.destroyed).toBe(true);
    expect(closing.errorListeners).toBe(1);
  });

  it('destroys a socket whose peer reads nothing one second after answering, and not before', () => {
    vi.useFakeTimers();
    const socket = refusedUnread();
    expect(socket.written).toMatch(/^HTTP\/1\.1 404 /);
    vi.advanceTimersByTime(999);
    expect(socket.destroyed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(socket.destroyed).toBe(true);
    expect(socket.destroyCalls).toBe(1);
  });

  it('cancels the linger timer once the bytes are out, or once the socket closed', () => {
    vi.useFakeTimers();
    const finished = refusedUnread();
    finished.fire('finish');
    expect(finished.destroyCalls).toBe(1);
    vi.advanceTimersByTime(5000);
    expect(finished.destroyCalls).toBe(1);
    const closed = refusedUnread();
    closed.fire('close');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('works where setTimeout returns a plain number (browsers, Deno): no unref to call', () => {
    numericTimers();
    const socket = refusedUnread();
    expect(socket.written).toMatch(/^HTTP\/1\.1 404 /);
    socket.fire('finish');
    expect(socket.destroyed).toBe(true);
  });

  it('arms a linger timer that does not keep the process alive', () => {
    const timers = armedTimers();
    const socket = refusedUnread();
    expect(timers).toHaveLength(1);
    expect(timers[0]?.hasRef()).toBe(false);
    socket.fire('close');
  });
});

describe('upgrade registry edges', () => {
  it('is one registry per server, and a fresh one after the last route left', () => {
    const server = new FakeServer();
    const a = upgradeRegistry(server);
    expect(upgradeRegistry(server)).toBe(a);
    expect(upgradeRegistry(new FakeServer())).not.toBe(a);
    const off = registerUpgrade(server, { path: '/ws', handle: () => undefined });
    expect(a.size).toBe(1);
    off();
    expect(a.size).toBe(0);
    expect(upgradeRegistry(server)).not.toBe(a);
  });

  it('listens once however many routes, and until the last one is removed', () => {
    const server = new FakeServer();
    const seen: string[] = [];
    const offWs = registerUpgrade(server, { path: '/ws', handle: () => seen.push('ws') });
    const offBoard = registerUpgrade(server, {
      path: (p) => p.startsWith('/board/'),
      handle: () => seen.push('board'),
    });
    expect(server.listenerCount('upgrade')).toBe(1);
    offWs();
    offWs();
    expect(server.listenerCount('upgrade')).toBe(1);
    server.upgrade('/board/b1', new FakeSocket());
    const stray = new FakeSocket();
    server.upgrade('/ws', stray);
    expect(seen).toEqual(['board']);
    expect(stray.written).toMatch(/^HTTP\/1\.1 404 /);
    offBoard();
    expect(server.listenerCount('upgrade')).toBe(0);
  });

  it('allows one predicate function for several routes (only exact paths must differ)', () => {
    const server = new FakeServer();
    const isBoard = (pathname: string) => pathname.startsWith('/board/');
    const offA = registerUpgrade(server, { path: isBoard, handle: () => undefined });
    const offB = registerUpgrade(server, { path: isBoard, handle: () => undefined });
    expect(upgradeRegistry(server).size).toBe(2);
    offA();
    offB();
  });

  it('a registry kept after its last route left listens again when a route is added to it', () => {
    const server = new FakeServer();
    const registry = upgradeRegistry(server);
    registry.register({ path: '/a', handle: () => undefined })();
    expect(server.listenerCount('upgrade')).toBe(0);
    const seen: string[] = [];
    const off = registry.register({ path: '/b', handle: () => seen.push('b') });
    expect(server.listenerCount('upgrade')).toBe(1);
    server.upgrade('/b', new FakeSocket());
    expect(seen).toEqual(['b']);
    off();
  });

  it('allows several predicate routes and the same exact path on another server', () => {
    const server = new FakeServer();
    const offA = registerUpgrade(server, { path: () => false, handle: () => undefined });
    const offB = registerUpgrade(server, { path: () => false, handle: () => undefined });
    const offC = registerUpgrade(server, { path: '/ws', handle: () => undefined });
    const other = new FakeServer();
    const offD = registerUpgrade(other, { path: '/ws', handle: () => undefined });
    expect(upgradeRegistry(server).size).toBe(3);
    expect(() => registerUpgrade(server, { path: '/ws', handle: () => undefined })).toThrow(
      new TypeError('@boardcast: an endpoint already takes upgrades for /ws on this server'),
    );
    for (const off of [offA, offB, offC, offD]) off();
  });

  it('matches the path without its query, "/" for a request without url, and the first matching route only', () => {
    const server = new FakeServer();
    const seen: string[] = [];
    const offs = [
      registerUpgrade(server, { path: '/', handle: () => seen.push('root') }),
      registerUpgrade(server, { path: (p) => p.startsWith('/a'), handle: () => seen.push('first') }),
      registerUpgrade(server, { path: (p) => p.startsWith('/a'), handle: () => seen.push('second') }),
    ];
    server.upgrade(undefined, new FakeSocket());
    server.upgrade('/a/b?x=/', new FakeSocket());
    expect(seen).toEqual(['root', 'first']);
    for (const off of offs) off();
  });

  it('answers an upgrade whose url cannot be parsed 404 without asking any route', () => {
    const server = new FakeServer();
    const seen: string[] = [];
    const off = registerUpgrade(server, { path: () => true, handle: () => seen.push('called') });
    const socket = new FakeSocket();
    server.upgrade('http://[bad', socket);
    expect(seen).toEqual([]);
    expect(socket.written).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    off();
  });

  it('answers 500 handler_failed, and logs, when a route handler throws', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const server = new FakeServer();
    const failure = new Error('handler bug');
    const off = registerUpgrade(server, {
      path: '/ws',
      handle: () => {
        throw failure;
      },
    });
    const socket = new FakeSocket();
    expect(() => server.upgrade('/ws', socket)).not.toThrow();
    expect(socket.written).toMatch(/^HTTP\/1\.1 500 Internal Server Error\r\n/);
    expect(socket.written).toContain('{"error":{"code":"handler_failed","message":"upgrade failed"}}');
    expect(socket.destroyed).toBe(true);
    expect(log).toHaveBeenCalledWith('[boardcast] the upgrade handler for /ws threw:', failure);
    expect(upgradeRegistry(server).refused).toBe(0);
    off();
  });

  it('refuses at once on a server that cannot count its listeners', () => {
    const server = new FakeServer();
    const plain = { on: server.on.bind(server), removeListener: server.removeListener.bind(server) };
    const off = registerUpgrade(plain, { path: '/ws', handle: () => undefined });
    const socket = new FakeSocket();
    server.upgrade('/other', socket);
    expect(socket.written).toMatch(/^HTTP\/1\.1 404 /);
    expect(upgradeRegistry(plain).watching).toBe(0);
    off();
  });

  it('stops watching an unmatched socket that closes, and leaves one another listener answered', () => {
    vi.useFakeTimers();
    const server = new FakeServer();
    const registry = upgradeRegistry(server);
    registry.unhandledTimeoutMs = 50;
    const off = registry.register({ path: '/ws', handle: () => undefined });
    server.on('upgrade', () => undefined);
    const closing = new FakeSocket();
    const answered = new FakeSocket();
    answered.bytesWritten = 10;
    server.upgrade('/x', closing);
    server.upgrade('/y', answered);
    expect(registry.watching).toBe(2);
    closing.destroy();
    expect(registry.watching).toBe(1);
    answered.bytesWritten = 30; // the other listener wrote its response
    vi.advanceTimersByTime(49);
    expect(registry.watching).toBe(1);
    vi.advanceTimersByTime(1);
    expect(registry.watching).toBe(0);
    expect(closing.written).toBe('');
    expect(answered.written).toBe('');
    expect(registry.refused).toBe(0);
    off();
  });

  it('at the last unregister, leaves a watched socket that was answered or destroyed alone', () => {
    vi.useFakeTimers();
    const server = new FakeServer();
    const registry = upgradeRegistry(server);
    const off = registry.register({ path: '/ws', handle: () => undefined });
    server.on('upgrade', () => undefined);
    const answered = new FakeSocket();
    const untouched = new FakeSocket();
    server.upgrade('/x', answered);
    server.upgrade('/y', untouched);
    answered.bytesWritten = 12;
    off();
    expect(answered.written).toBe('');
    expect(untouched.written).toMatch(/^HTTP\/1\.1 404 /);
    expect(registry.refused).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('watches where setTimeout returns a plain number (browsers, Deno): no unref to call', () => {
    const server = new FakeServer();
    const registry = upgradeRegistry(server);
    registry.unhandledTimeoutMs = 1;
    const off = registry.register({ path: '/ws', handle: () => undefined });
    server.on('upgrade', () => undefined);
    numericTimers();
    const socket = new FakeSocket();
    server.upgrade('/x', socket);
    expect(registry.watching).toBe(1);
    off();
    expect(socket.written).toMatch(/^HTTP\/1\.1 404 /);
  });

  it('arms a watch timer that does not keep the process alive', () => {
    const server = new FakeServer();
    const registry = upgradeRegistry(server);
    const off = registry.register({ path: '/ws', handle: () => undefined });
    server.on('upgrade', () => undefined);
    const timers = armedTimers();
    server.upgrade('/x', new FakeSocket());
    expect(timers).toHaveLength(1);
    expect(timers[0]?.hasRef()).toBe(false);
    vi.restoreAllMocks();
    off();
  });
});
