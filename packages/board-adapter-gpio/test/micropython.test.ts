import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MicroPythonInstance } from '@micropython/micropython-webassembly-pyscript';
import { afterEach, describe, expect, it } from 'vitest';
import { pythonPath } from '../../../test-support/system.js';
import { attachBoardLink } from '../src/index.js';
import { AGENT_PATH, closeServer, listen, newServer, waitFor } from './helpers.js';

const CHECKER = fileURLToPath(new URL('./mpy_compat.py', import.meta.url));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe.skipIf(!pythonPath)('static MicroPython compatibility check', () => {
  it('passes the agent and rejects CPython-only constructs', () => {
    expect(execFileSync(pythonPath!, [CHECKER, AGENT_PATH], { encoding: 'utf8' })).toBe('');
    const bad = join(tmpdir(), `boardcast-mpy-bad-${process.pid}.py`);
    cleanups.push(() => {
      rmSync(bad, { force: true });
    });
    writeFileSync(
      bad,
      [
        'import dataclasses',
        'import threading',
        'x: int = 1',
        'def f(a: int) -> str:',
        '    return f"{a!r}"',
        'print("x", flush=True)',
        'y = "abc".removeprefix("a")',
        'if (n := 3): pass',
        '',
      ].join('\n'),
    );
    let output = '';
    try {
      execFileSync(pythonPath!, [CHECKER, bad], { encoding: 'utf8' });
    } catch (error) {
      output = String((error as { stdout: string }).stdout);
    }
    for (const problem of [
      'module dataclasses',
      'module threading',
      'variable annotation',
      'return annotation',
      'argument annotation',
      'f-string',
      'print(flush=...)',
      'removeprefix',
      'walrus',
    ]) {
      expect(output).toContain(problem);
    }
  });
});

async function loadMp(out: string[]): Promise<MicroPythonInstance> {
  const { loadMicroPython } = await import('@micropython/micropython-webassembly-pyscript');
  const mp = await loadMicroPython({
    heapsize: 4 * 1024 * 1024,
    stdout: (l) => out.push(l),
    stderr: (l) => out.push(l),
  });
  mp.FS.writeFile('/boardcast_agent.py', readFileSync(AGENT_PATH, 'utf8'));
  return mp;
}

/** A TCP socket for MicroPython code, bytes crossing as hex strings. */
function jsnet(sockets: Set<Socket>) {
  return {
    connect(host: string, port: number) {
      return new Promise((resolve, reject) => {
        const socket = connect(port, host);
        sockets.add(socket);
        const chunks: Buffer[] = [];
        let waiter: ((hex: string) => void) | undefined;
        let ended = false;
        const flush = () => {
          if (!waiter) return;
          if (chunks.length) {
            const w = waiter;
            waiter = undefined;
            w(Buffer.concat(chunks.splice(0)).toString('hex'));
          } else if (ended) {
            const w = waiter;
            waiter = undefined;
            w('');
          }
        };
        socket.on('data', (d) => {
          chunks.push(d);
          flush();
        });
        socket.on('close', () => {
          ended = true;
          flush();
        });
        socket.on('error', reject);
        socket.on('connect', () =>
          resolve({
            read: () =>
              new Promise<string>((r) => {
                waiter = r;
                flush();
              }),
            write: (hex: string) => socket.write(Buffer.from(hex, 'hex')),
            close: () => socket.end(),
          }),
        );
      });
    },
  };
}

const BRIDGE = `
import asyncio, binascii, jsnet, boardcast_agent as ba

class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b''
    async def fill(self):
        chunk = await self.sock.read()
        if not chunk:
            raise EOFError('closed')
        self.buf += binascii.unhexlify(chunk)
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

class Writer:
    def __init__(self, sock):
        self.sock = sock
    def write(self, data):
        self.sock.write(binascii.hexlify(data).decode())
    async def drain(self):
        pass
    def close(self):
        self.sock.close()
    async def wait_closed(self):
        pass

async def opener(host, port, tls):
    sock = await jsnet.connect(host, port)
    return Reader(sock), Writer(sock)
`;

describe('the agent under real MicroPython (WebAssembly build from npm)', () => {
  it('imports, frames, debounces and answers requests in pure MicroPython', async () => {
    const out: string[] = [];
    const mp = await loadMp(out);
    mp.runPython(`
import sys, boardcast_agent as ba
assert sys.implementation.name == 'micropython'
frame = ba.encode_frame(1, b'hello', b'\\x01\\x02\\x03\\x04')
assert frame[0] == 0x81 and frame[1] == 0x85 and ba.apply_mask(frame[6:], b'\\x01\\x02\\x03\\x04') == b'hello'
assert ba.parse_url('ws://10.0.0.2:8080/board') == ('ws', '10.0.0.2', 8080, '/board')
agent = ba.Agent({'id': 'mp', 'backend': 'sim', 'pins': [{'pin': 5, 'mode': 'output'}, {'pin': 0, 'mode': 'input_pullup', 'debounce_ms': 20}]})
hello = agent.hello()
assert hello['firmware'].startswith('boardcast-agent/') and 'micropython' in hello['firmware'], hello
assert agent.handle({'type': 'write', 'id': 1, 'pin': 5, 'value': 1}) == [{'type': 'result', 'id': 1, 'ok': True, 'value': 1}]
assert agent.handle({'type': 'write', 'id': 2, 'pin': 0, 'value': 1})[0]['error']['code'] == 'unsupported'
assert agent.handle({'type': 'watch', 'id': 3, 'pin': 0, 'edge': 'both', 'debounceMs': 20})[0]['value'] == 1
agent.backend.press(0)
t = ba.ticks_ms()
assert agent.poll_inputs(t) == []
assert agent.poll_inputs(t + 10) == []
assert agent.poll_inputs(t + 25) == [{'type': 'edge', 'pin': 0, 'value': 0}]
snap = agent.handle({'type': 'snapshot', 'id': 4})[0]['value']
assert snap['pins'] == {'5': 1, '0': 0}, snap
print('mp-ok')
`);
    expect(out).toContain('mp-ok');
  });

  it('connects to a real BoardLink over a real socket and answers a write', async () => {
    const server = newServer();
    const link = attachBoardLink(server, { token: 'mp-token', heartbeatMs: 1000 });
    const port = await listen(server);
    const sockets = new Set<Socket>();
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await link.close();
      await closeServer(server);
    });
    const out: string[] = [];
    const mp = await loadMp(out);
    mp.registerJsModule('jsnet', jsnet(sockets));
    mp.runPython(BRIDGE);
    mp.runPython(`
agent = ba.Agent({'id': 'mp-board', 'url': 'ws://127.0.0.1:${port}/board', 'token': 'mp-token', 'backend': 'sim',
                  'watchdog_s': 0, 'poll_ms': 20, 'pins': [{'pin': 2, 'mode': 'output'}, {'pin': 4, 'mode': 'input'}]}, opener=opener)
task = asyncio.create_task(agent.run())
`);
    const board = link.board('mp-board');
    await waitFor(() => board.status === 'online', `MicroPython agent online (output: ${out.join(' | ')})`, 15_000);
    expect(board.firmware).toContain('micropython');
    expect(await board.digitalWrite(2, 1)).toBe(1);
    const seen: number[] = [];
    board.watch(4, { debounceMs: 20 }, (e) => seen.push(e.value));
    await waitFor(async () => (await board.digitalRead(4)) === 0, 'read pin 4');
    mp.runPython('agent.backend.set(4, 1)');
    await waitFor(() => seen.includes(1), 'edge from MicroPython');
    mp.runPython('agent.running = False\nagent.conn and agent.conn.writer.close()');
    await waitFor(() => board.status === 'offline', 'offline after the MicroPython agent stopped');
  });
});
