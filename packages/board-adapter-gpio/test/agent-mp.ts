/**
 * The agent under the npm MicroPython WebAssembly build (32-bit, like an
 * ESP32) over a socket double that is at least as strict as MicroPython's
 * asyncio stream on lwIP:
 *
 * - one waiting writer and one waiting reader per socket: a second is an
 *   error (the device's `assert` is stripped and silently drops the first);
 * - a 2 KB send buffer (lwIP's TCP_SND_BUF on the ESP32 port): `write()`
 *   takes what fits, `drain()` waits until the rest fits;
 * - a link that goes silent (`stall()`): nothing leaves the send buffer and
 *   nothing is received, without FIN or RST, until `resume()`.
 *
 * Bytes cross the JS/Python boundary as hex strings; the Python side polls
 * (5 ms) instead of awaiting JS promises — connecting included — so
 * cancelling a task never leaves a JS callback pointing at it, and the only
 * way JS calls into the interpreter on its own is its event loop's timers,
 * which micropython-realm.ts guards.
 *
 * Each interpreter is loaded into its own JavaScript realm
 * (micropython-realm.ts): the build keeps its state on `globalThis`, and
 * several interpreters in one realm corrupted each other.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { attachBoardLink, type BoardLink } from '../src/index.js';
import { closeServer, listen, newServer } from './helpers.js';
import { loadRealmMicroPython, type RealmMicroPython } from './micropython-realm.js';

export type { RealmMicroPython as AgentMp };

export const AGENT_DIR = fileURLToPath(new URL('../agent/', import.meta.url));
/** The modules copied to a board (everything but the example config and main.py). */
export const AGENT_MODULES = readdirSync(AGENT_DIR)
  .filter((f) => f.endsWith('.py') && f !== 'config.example.py' && f !== 'main.py')
  .sort();

export const SEND_BUFFER = 2048;

/**
 * runner(agent) runs the agent and prints "agent-finished" when run() has
 * returned. Every test waits for it (stopAgent), so no agent outlives its
 * test; the teardown then disposes of the interpreter (nothing of it runs
 * after).
 */
export const RUNNER = `
import asyncio
async def runner(agent):
    try:
        await agent.run()
    finally:
        print('agent-finished')
`;

/**
 * waitFor that fails at once, with the interpreter's error and its last
 * output, when the interpreter crashed (a wasm trap, its event loop failing):
 * waiting longer cannot help then. `what` may be a function, so the output in
 * the message is read when the wait fails, not when it starts.
 */
export async function waitMp<T>(
  mp: RealmMicroPython,
  out: readonly string[],
  check: () => T | Promise<T>,
  what: string | (() => string),
  timeoutMs = 10_000,
): Promise<NonNullable<T>> {
  const describe = () => (typeof what === 'function' ? what() : what);
  const tail = () => out.slice(-12).join(' | ');
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    if (mp.crash !== undefined) {
      throw new Error(
        `the MicroPython interpreter crashed while waiting for ${describe()}: ${String(mp.crash)} (output: ${tail()})`,
      );
    }
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline && mp.crash === undefined) {
      throw new Error(
        `timed out waiting for ${describe()}${last ? ` (last error: ${String(last)})` : ''} (output: ${tail()})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Stop the agent and wait for run() to return; throws the interpreter's crash if it had one. */
export async function stopAgent(mp: RealmMicroPython, out: string[]): Promise<void> {
  if (mp.crash !== undefined) {
    throw new Error(
      `the MicroPython interpreter had crashed: ${String(mp.crash)} (output: ${out.slice(-12).join(' | ')})`,
    );
  }
  try {
    mp.runPython('agent.stop()');
  } catch {
    return; // no agent was started
  }
  await waitMp(mp, out, () => out.includes('agent-finished'), 'the MicroPython agent to finish', 10_000);
}

export async function loadAgentMp(out: string[], heapsize = 64 * 1024): Promise<RealmMicroPython> {
  const mp = await loadRealmMicroPython({
    // Start small: this build grows its heap on demand, so memory is
    // measured with gc.mem_alloc(), not by a cap.
    heapsize,
    stdout: (l) => out.push(l),
    stderr: (l) => out.push(l),
  });
  for (const file of AGENT_MODULES) mp.FS.writeFile(`/${file}`, readFileSync(`${AGENT_DIR}${file}`, 'utf8'));
  return mp;
}

interface DoubleSocket {
  /** 'connecting', 'open', or the connect error's code (ECONNREFUSED, ...). */
  state(): string;
  send(hex: string): number;
  take(): string | null;
  room(): number;
  closed(): boolean;
  close(): void;
}

export interface SocketDouble {
  /** Stop the link both ways, no FIN/RST. */
  stall(): void;
  resume(): void;
  /** Reset every open connection. */
  cut(): void;
  /** Sockets the Python side opened and has not closed (the board's descriptors). */
  readonly held: number;
  readonly sockets: Set<Socket>;
  /** The module to register as `jsnet` in MicroPython (connect returns at once; Python polls state()). */
  readonly module: { connect(host: string, port: number): DoubleSocket };
  destroy(): void;
}

export function socketDouble(sendBuffer = SEND_BUFFER): SocketDouble {
  const sockets = new Set<Socket>();
  const flushers = new Set<() => void>();
  let stalled = false;
  let held = 0;
  const double: SocketDouble = {
    sockets,
    get held() {
      return held;
    },
    stall() {
      stalled = true;
      for (const s of sockets) s.pause();
    },
    resume() {
      stalled = false;
      for (const s of sockets) s.resume();
      for (const f of flushers) f();
    },
    cut() {
      for (const s of sockets) s.resetAndDestroy();
    },
    destroy() {
      for (const s of sockets) s.destroy();
    },
    module: {
      connect(host: string, port: number): DoubleSocket {
        const socket = connect(port, host);
        sockets.add(socket);
        const inbox: Buffer[] = [];
        let outbox: Buffer[] = [];
        let outBytes = 0;
        let ended = false;
        let open = false;
        let failure: string | undefined;
        const flush = () => {
          if (stalled || socket.destroyed) return;
          for (const b of outbox) socket.write(b);
          outbox = [];
          outBytes = 0;
        };
        flushers.add(flush);
        socket.on('data', (d) => inbox.push(d));
        socket.on('close', () => {
          ended = true;
          sockets.delete(socket);
          flushers.delete(flush);
        });
        socket.on('error', (e: NodeJS.ErrnoException) => {
          if (!open) failure ??= e.code ?? e.message;
        });
        if (stalled) socket.pause();
        let counted = false;
        let closedByBoard = false;
        socket.on('connect', () => {
          open = true;
          held++;
          counted = true;
        });
        return {
          state: () => (open ? 'open' : (failure ?? (ended ? 'ECONNRESET' : 'connecting'))),
          send(hex: string) {
            if (ended) return -1;
            const data = Buffer.from(hex, 'hex');
            const n = Math.min(data.length, sendBuffer - outBytes);
            if (n > 0) {
              outbox.push(data.subarray(0, n));
              outBytes += n;
              // A live link drains at once (on a later tick, like a NIC).
              setImmediate(flush);
            }
            return n;
          },
          take() {
            if (stalled) return '';
            if (inbox.length) return Buffer.concat(inbox.splice(0)).toString('hex');
            return ended ? null : '';
          },
          room: () => (ended ? -1 : sendBuffer - outBytes),
          closed: () => ended,
          close: () => {
            // Only the board closing its socket frees its descriptor; the peer's FIN does not.
            if (counted && !closedByBoard) held--;
            closedByBoard = true;
            socket.destroy();
          },
        };
      },
    },
  };
  return double;
}

/**
 * Python side of the double: Reader/Writer with MicroPython Stream's shape
 * (write() buffers what the socket does not take, drain() waits) and an
 * `opener` for Agent(opener=...).
 */
export const BRIDGE = `
import asyncio, binascii, jsnet

class Busy(Exception):
    pass

class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b''
        self.waiting = False
    async def fill(self):
        if self.waiting:
            raise Busy('second waiting reader on one socket')
        self.waiting = True
        try:
            while True:
                chunk = self.sock.take()
                if chunk is None:
                    raise EOFError('closed')
                if chunk:
                    self.buf += binascii.unhexlify(chunk)
                    return
                await asyncio.sleep_ms(5)
        finally:
            self.waiting = False
    async def readexactly(self, n):
        while len(self.buf) < n:
            await self.fill()
        out = self.buf[:n]
        self.buf = self.buf[n:]
        return out
    async def readline(self):
        while b'\\n' not in self.buf:
            await self.fill()
        i = self.buf.index(b'\\n') + 1
        out = self.buf[:i]
        self.buf = self.buf[i:]
        return out

class RawSocket:
    # The socket under a MicroPython Stream (Stream.s): only its close() frees the descriptor.
    def __init__(self, sock):
        self.sock = sock
    def close(self):
        self.sock.close()

class Writer:
    def __init__(self, sock):
        self.sock = sock
        self.s = RawSocket(sock)
        self.out = b''
        self.waiting = False
    def _send(self, data):
        n = self.sock.send(binascii.hexlify(data).decode())
        if n < 0:
            raise OSError(104, 'ECONNRESET')
        return n
    def write(self, buf):
        # As MicroPython's Stream.write: send what fits now, keep the rest.
        if not self.out:
            n = self._send(buf)
            if n == len(buf):
                return
            buf = buf[n:]
        self.out += buf
    async def drain(self):
        if not self.out:
            await asyncio.sleep_ms(0)
            return
        if self.waiting:
            raise Busy('second waiting writer on one socket')
        self.waiting = True
        try:
            while self.out:
                if self.sock.room() == 0:
                    await asyncio.sleep_ms(5)
                    continue
                n = self._send(self.out)
                self.out = self.out[n:]
        finally:
            self.waiting = False
    def close(self):
        # As MicroPython's Stream.close(): nothing; the socket stays open
        # until wait_closed() or Stream.s.close() (extmod/asyncio/stream.py).
        pass
    async def wait_closed(self):
        self.s.close()

async def opener(host, port, cfg):
    # Polls the connect like everything else (no JS promise awaited).
    sock = jsnet.connect(host, port)
    while True:
        state = sock.state()
        if state == 'open':
            return Reader(sock), Writer(sock)
        if state != 'connecting':
            raise OSError(111 if state == 'ECONNREFUSED' else 104, state)
        await asyncio.sleep_ms(5)
${RUNNER}`;

export interface LinkRig {
  link: BoardLink;
  port: number;
  net: SocketDouble;
  mp: RealmMicroPython;
  out: string[];
}

/**
 * A real `BoardLink` on 127.0.0.1, a socket double and a fresh interpreter
 * with `jsnet` registered (the caller runs BRIDGE). `onCleanup` receives the
 * teardown: stop the agent, dispose of the interpreter, drop the sockets,
 * close link and server — all of it even when the agent or interpreter
 * failed (that failure is then the teardown's error).
 */
export async function startLinkRig(
  token: string,
  heartbeatMs: number,
  onCleanup: (fn: () => Promise<void>) => void,
): Promise<LinkRig> {
  const server = newServer();
  const link = attachBoardLink(server, { token, heartbeatMs });
  const port = await listen(server);
  const net = socketDouble();
  const out: string[] = [];
  const mp = await loadAgentMp(out);
  onCleanup(async () => {
    try {
      await stopAgent(mp, out);
    } finally {
      mp.dispose();
      net.destroy();
      await link.close();
      await closeServer(server);
    }
  });
  mp.registerJsModule('jsnet', net.module);
  return { link, port, net, mp, out };
}
