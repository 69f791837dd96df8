/**
 * The real agent under CPython, over real sockets on 127.0.0.1: command line,
 * verified TLS, deadlines, duplicate-board backoff and backoff that resets
 * only after a session stayed up. Servers here are plain `ws` servers that
 * speak the board link by hand, so each test pins down one agent behaviour.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { selfSignedCertificate } from '../../../test-support/nginx.js';
import { pythonPath } from '../../../test-support/system.js';
import { attachBoardLink } from '../src/index.js';
import { AGENT_DIR, AGENT_MODULES } from './agent-mp.js';
import {
  AGENT_PATH,
  type AgentProcess,
  cleanupTemp,
  closeServer,
  listen,
  newServer,
  startAgent,
  waitFor,
} from './helpers.js';

/** The bound of `waitFor` and `waitForLine` when a call names none (test-support/wait.ts). */
const WAIT_MS = 10_000;
/** The bound of one agent run under spawnSync. */
const RUN_MS = 20_000;
/** The board link's default `requestTimeoutMs`: the bound of one request to the agent. */
const REQUEST_MS = 5_000;
/**
 * A test's timeout: the sum of the bounds it waits on, plus 30 s to start
 * and stop what it runs (python, openssl, servers). Above the sum, so a wait
 * that is slow but inside its own bound (a loaded machine) never becomes a
 * test timeout; a hang still fails, by this.
 */
const budget = (...waitsMs: number[]) => waitsMs.reduce((sum, ms) => sum + ms, 0) + 30_000;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
  cleanupTemp();
});

const TOKEN = 'cpython-token';
const PINS = [
  { pin: 5, mode: 'output' },
  { pin: 0, mode: 'input_pullup' },
];

function agent(config: Record<string, unknown>): AgentProcess {
  const a = startAgent(pythonPath!, { id: 'cp', token: TOKEN, pins: PINS, ...config });
  cleanups.push(() => a.kill());
  return a;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'boardcast-agent-test-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A board-link server written by hand: `onFrame` sees every decoded agent frame. */
async function handServer(onFrame: (ws: WebSocket, frame: Record<string, unknown>) => void) {
  const server = newServer();
  const wss = new WebSocketServer({ server, handleProtocols: () => 'boardcast-board.v1' });
  const sockets: WebSocket[] = [];
  wss.on('connection', (ws) => {
    sockets.push(ws);
    ws.on('message', (data) => onFrame(ws, JSON.parse(String(data)) as Record<string, unknown>));
  });
  const port = await listen(server);
  cleanups.push(async () => {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    await closeServer(server);
  });
  return { port, url: `ws://127.0.0.1:${port}/board`, sockets };
}

/** A server written by hand that answers every hello with `onHello(ws)` and collects the agent's results. */
async function resultServer(onHello: (ws: WebSocket) => void) {
  const results: Array<Record<string, unknown>> = [];
  const rig = await handServer((ws, frame) => {
    if (frame.type === 'hello') onHello(ws);
    if (frame.type === 'result') results.push(frame);
  });
  return { ...rig, results };
}

describe.skipIf(!pythonPath)('agent command line (CPython)', () => {
  function run(args: string[]) {
    return spawnSync(pythonPath!, [AGENT_PATH, ...args], { encoding: 'utf8', timeout: RUN_MS });
  }

  it(
    '--help prints usage and exits 0',
    () => {
      const r = run(['--help']);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^usage: boardcast_agent\.py/);
      expect(r.stdout).toContain('backend');
      expect(r.stderr).toBe('');
    },
    budget(RUN_MS),
  );

  it(
    'each bad config exits 2 with one line naming the key and the expected type, no traceback',
    () => {
      const dir = tempDir();
      const file = (name: string, content: unknown) => {
        const path = join(dir, name);
        writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
        return path;
      };
      const cases: Array<[string[], RegExp]> = [
        [['--config', file('list.json', [1, 2])], /config file .*list\.json must be a JSON object/],
        [['--config', file('broken.json', '{"id": ')], /--config must be a JSON file/],
        [['--config', file('hb.json', { backend: 'sim', heartbeat_ms: '5s' })], /heartbeat_ms must be an integer > 0/],
        [['--heartbeat-ms', 'soon', '--backend', 'sim'], /--heartbeat-ms must be an integer/],
        [
          ['--config', file('mode.json', { backend: 'sim', pins: [{ pin: 5, mode: 'blink' }] })],
          /pins\[0\]\.mode must be one of/,
        ],
        [
          ['--config', file('pin.json', { backend: 'sim', pins: [{ mode: 'output' }] })],
          /pins\[0\]\.pin must be an integer/,
        ],
        [
          ['--config', file('hall.json', { backend: 'sim', sensors: [{ name: 'h', kind: 'hall' }] })],
          /sensors\[0\]\.kind must be one of .*MicroPython 1\.21/,
        ],
        [
          ['--config', file('typo.json', { backend: 'sim', heartbeat: 5 })],
          /'heartbeat' must be one of the known keys/,
        ],
        [['--backend', 'sim', '--url', 'http://x/board'], /url must be a ws:\/\/ or wss:\/\/ URL/],
        // Regression: these were accepted and then retried for ever (DNS errors, FileNotFoundError at each dial).
        [
          [
            '--config',
            file('dup.json', {
              backend: 'sim',
              pins: [
                { pin: 5, mode: 'output' },
                { pin: 5, mode: 'input' },
              ],
            }),
          ],
          /pins\[1\]\.pin must be different from pins\[0\]\.pin/,
        ],
        [
          ['--config', file('nan.json', '{"backend": "sim", "sensors": [{"name": "t", "kind": "sim", "scale": NaN}]}')],
          /sensors\[0\]\.scale must be a finite number/,
        ],
        [['--backend', 'sim', '--url', 'ws://host:abc/board'], /url must be a ws:\/\/ or wss:\/\/ URL with a host/],
        [['--backend', 'sim', '--url', 'ws://[::1/board'], /url must be a ws:\/\/ or wss:\/\/ URL with a host/],
        [
          ['--backend', 'sim', '--url', 'wss://127.0.0.1/b', '--ca', join(dir, 'nope.pem')],
          /ca must be a readable PEM file/,
        ],
        [
          ['--backend', 'sim', '--url', 'wss://127.0.0.1/b', '--ca', file('junk.pem', 'not a certificate')],
          /ca must be a PEM file holding CA certificates/,
        ],
        [['--backend', 'sim', '--cert-sha256', 'abc'], /cert_sha256 must be the SHA-256 fingerprint/],
        [['--backend', 'sim', '--id', '../etc'], /id must be 1-64 ASCII letters/],
        [['--backend', 'sim', '--id', 'k\u00fcche'], /id must be 1-64 ASCII letters/], // the server refuses non-ASCII ids
        [['--bogus', '1'], /--bogus must be a known option/],
        // No lgpio on this PC: the default backend names what to install or use.
        [[], /backend must be "sim" on this computer: lgpio is not installed .*apt install python3-lgpio/],
      ];
      for (const [args, pattern] of cases) {
        const r = run(args);
        const what = `${args.join(' ')} → ${r.stderr}`;
        expect(r.status, what).toBe(2);
        expect(r.stderr.trimEnd().split('\n'), what).toHaveLength(1);
        expect(r.stderr, what).toMatch(pattern);
        expect(r.stderr, what).not.toContain('Traceback');
      }
      // 20 python processes one after another, each bounded by RUN_MS (load 20 on 2 cores seen).
    },
    budget(20 * RUN_MS),
  );

  it('no module reads the wall clock: liveness and deadlines use ticks/monotonic only', () => {
    for (const file of AGENT_MODULES) {
      const source = readFileSync(join(AGENT_DIR, file), 'utf8');
      expect(source, file).not.toMatch(/time\.time\(|time\.localtime|datetime|Date\.now/);
    }
  });
});

describe.skipIf(!pythonPath)('wss:// with a self-signed certificate (CPython)', () => {
  async function tlsRig() {
    const dir = tempDir();
    const { cert, key } = selfSignedCertificate(dir); // for 127.0.0.1 and localhost
    const fingerprint = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'], {
      encoding: 'utf8',
    })
      .trim()
      .split('=')[1]!;
    const server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    let upgrades = 0;
    server.prependListener('upgrade', () => upgrades++);
    const link = attachBoardLink(server, { token: TOKEN, heartbeatMs: 1000 });
    const port = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );
    cleanups.push(async () => {
      await link.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { link, url: `wss://127.0.0.1:${port}/board`, cert, fingerprint, upgrades: () => upgrades };
  }
  const fast = { backoff_min_ms: 100, backoff_max_ms: 200 };

  /** A rig, and an agent that trusts its certificate by `trust` (the CA file or its fingerprint), online over it. */
  async function onlineOverTls(trust: (rig: Awaited<ReturnType<typeof tlsRig>>) => object, what: string) {
    const rig = await tlsRig();
    agent({ url: rig.url, ...trust(rig), ...fast });
    await waitFor(() => rig.link.board('cp').status === 'online', what);
    return rig;
  }

  it(
    'refuses a server it cannot verify: no CA → no upgrade request, the token is never sent',
    async () => {
      const rig = await tlsRig();
      const a = agent({ url: rig.url, ...fast });
      await a.waitForLine(/CERTIFICATE_VERIFY_FAILED/);
      await waitFor(() => a.lines.filter((l) => /CERTIFICATE_VERIFY_FAILED/.test(l)).length >= 2, 'a retry');
      expect(rig.upgrades()).toBe(0);
      expect(rig.link.board('cp').status).toBe('offline');
    },
    budget(WAIT_MS, WAIT_MS),
  );

  it(
    'works with the CA file',
    async () => {
      const rig = await onlineOverTls((tls) => ({ ca: tls.cert }), 'online over verified wss');
      expect(await rig.link.board('cp').digitalWrite(5, 1)).toBe(1);
    },
    budget(WAIT_MS, REQUEST_MS),
  );

  it(
    'works with the pinned SHA-256 fingerprint; a wrong pin is refused before the token is sent',
    async () => {
      const rig = await onlineOverTls((tls) => ({ cert_sha256: tls.fingerprint }), 'online with a pinned certificate');
      const wrong = agent({ id: 'cp2', url: rig.url, cert_sha256: 'ab'.repeat(32), ...fast });
      await wrong.waitForLine(/does not match cert_sha256; token not sent/);
      expect(rig.upgrades()).toBe(1);
    },
    budget(WAIT_MS, WAIT_MS),
  );
});

describe.skipIf(!pythonPath)('requests with deadlines (CPython)', () => {
  it(
    'drops a request whose deadline passed on the server clock and answers timeout; executes one in time',
    async () => {
      // The server's monotonic clock has an arbitrary origin: 7,000,000 ms here.
      const origin = 7_000_000 - performance.now();
      const now = () => Math.round(origin + performance.now());
      const { results, url } = await resultServer((ws) => {
        ws.send(JSON.stringify({ type: 'welcome', heartbeatMs: 5000, now: now() }));
        ws.send(JSON.stringify({ type: 'write', id: 1, pin: 5, value: 1, deadline: now() - 1000 }));
        ws.send(JSON.stringify({ type: 'write', id: 2, pin: 5, value: 0, deadline: now() + 5000 }));
        ws.send(JSON.stringify({ type: 'read', id: 3, pin: 5, deadline: now() + 5000 }));
      });
      const a = agent({ url });
      await waitFor(() => results.length === 3, 'three results');
      expect(results[0]).toEqual({
        type: 'result',
        id: 1,
        ok: false,
        error: { code: 'timeout', message: 'deadline passed before execution' },
      });
      expect(results[1]).toMatchObject({ id: 2, ok: true, value: 0 });
      expect(results[2]).toMatchObject({ id: 3, ok: true, value: 0 });
      expect(a.lines.some((l) => /dropped write id 1/.test(l))).toBe(true);
      expect(a.lines.some((l) => /write 5 1/.test(l))).toBe(false);
    },
    budget(WAIT_MS),
  );
});

describe.skipIf(!pythonPath)('a server that sends garbage (CPython)', () => {
  it(
    'regression: a deeply nested frame is skipped (was RecursionError ending the session); the session goes on',
    async () => {
      let hellos = 0;
      const { results, url } = await resultServer((ws) => {
        hellos++;
        ws.send(JSON.stringify({ type: 'welcome', heartbeatMs: 5000, now: 1000 }));
        ws.send('['.repeat(3000)); // 3 KB: under max_frame, deeper than CPython's recursion limit
        ws.send(JSON.stringify({ type: 'write', id: 1, pin: 5, value: 1 }));
      });
      const a = agent({ url });
      await waitFor(() => results.length === 1, 'the write after the bad frame answered');
      expect(results[0]).toMatchObject({ id: 1, ok: true, value: 1 });
      expect(a.lines.some((l) => /bad frame from server RecursionError/.test(l))).toBe(true);
      expect(hellos).toBe(1);
      expect(a.lines.some((l) => /disconnected/.test(l))).toBe(false);
    },
    budget(WAIT_MS),
  );

  it(
    'regression: a response head that never ends is cut at 2 KB and its socket closed (readline grew without bound)',
    async () => {
      const server = createNetServer((socket) => {
        socket.on('error', () => undefined);
        socket.once('data', () => {
          socket.write('HTTP/1.1 101 Switching Protocols\r\n');
          const timer = setInterval(() => {
            if (socket.writableLength < 65536) socket.write(`X-Filler: ${'a'.repeat(1000)}\r\n`);
          }, 5);
          socket.on('close', () => clearInterval(timer));
        });
      });
      const closed: boolean[] = [];
      server.on('connection', (socket) => socket.on('close', () => closed.push(true)));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const port = (server.address() as AddressInfo).port;
      const a = agent({ url: `ws://127.0.0.1:${port}/board`, connect_timeout_ms: 60_000 });
      await a.waitForLine(/refused response head longer than 2048 bytes/);
      await waitFor(() => closed.length >= 1, 'the agent closed the socket');
    },
    budget(WAIT_MS, WAIT_MS),
  );
});

describe.skipIf(!pythonPath)('shutdown (CPython)', () => {
  it(
    'SIGTERM drives each output inactive before exiting (release "off", the default); "keep" leaves it',
    async () => {
      const { results, url } = await resultServer((ws) => {
        ws.send(JSON.stringify({ type: 'welcome', heartbeatMs: 5000, now: 1 }));
        for (const [id, pin] of [5, 6, 7].entries()) ws.send(JSON.stringify({ type: 'write', id, pin, value: 1 }));
      });
      const a = agent({
        url,
        pins: [
          { pin: 5, mode: 'output' },
          { pin: 6, mode: 'output', release: 'keep' },
          { pin: 7, mode: 'output', active_low: true },
        ],
      });
      await waitFor(() => results.length === 3, 'three writes done');
      expect(results.every((r) => r.ok === true && r.value === 1)).toBe(true);
      a.child.kill('SIGTERM');
      expect(await a.exited).toBe(0);
      const released = a.lines.filter((l) => /stopping: output/.test(l));
      expect(released.some((l) => /output 5 driven inactive \(level 0\)/.test(l))).toBe(true);
      expect(released.some((l) => /output 7 driven inactive \(level 1\)/.test(l))).toBe(true);
      expect(released.some((l) => /output 6 /.test(l))).toBe(false);
    },
    budget(WAIT_MS),
  );

  it(
    'SIGTERM closes the link with a close frame (1001) and exits 0 (a hang fails by the test timeout)',
    async () => {
      const closes: number[] = [];
      let hello = false;
      const rig = await handServer((ws, frame) => {
        if (frame.type !== 'hello') return;
        hello = true;
        ws.on('close', (code) => closes.push(code));
        ws.send(JSON.stringify({ type: 'welcome', heartbeatMs: 5000, now: 1 }));
      });
      const a = agent({ url: rig.url });
      await waitFor(() => hello && a.lines.some((l) => /online/.test(l)), 'session up');
      a.child.kill('SIGTERM');
      expect(await a.exited).toBe(0);
      await waitFor(() => closes.length === 1, 'the server saw the close');
      expect(closes).toEqual([1001]);
    },
    budget(WAIT_MS, WAIT_MS),
  );
});

describe.skipIf(!pythonPath)('backoff (CPython)', () => {
  it(
    'board_conflict: one clear line, then a long backoff instead of flapping',
    async () => {
      let connections = 0;
      const rig = await handServer((ws, frame) => {
        if (frame.type !== 'hello') return;
        connections++;
        ws.send(
          JSON.stringify({
            type: 'error',
            error: { code: 'board_conflict', message: 'board "cp" is connected from another agent' },
          }),
        );
        ws.close(4409, 'board_conflict');
      });
      const a = agent({
        url: rig.url,
        backoff_min_ms: 50,
        backoff_max_ms: 100,
        heartbeat_ms: 200,
      });
      // The first refusal after boot may be the board's own socket from before a reset: one retry after two
      // heartbeat periods (the server takes a silent id over after 1.5), then the long conflict backoff.
      const first = await a.waitForLine(/board_conflict/);
      expect(first).toMatch(/id 'cp' is still held \(our connection before a reset\?\); retry in \d+ ms/);
      expect(Number(/retry in (\d+) ms/.exec(first)![1])).toBeGreaterThanOrEqual(400);
      const line = await a.waitForLine(/another agent/);
      expect(line).toMatch(/another agent is connected as id 'cp' - give each board its own id; retry in \d+ ms/);
      const delay = Number(/retry in (\d+) ms/.exec(line)![1]);
      expect(delay).toBeGreaterThanOrEqual(30_000);
      expect(delay).toBeLessThanOrEqual(300_000);
      // With 50 ms backoff an agent that ignored the conflict would dial ~30 times by now.
      await new Promise((r) => setTimeout(r, 1500));
      expect(connections).toBe(2);
      expect(a.lines.filter((l) => /board_conflict/.test(l))).toHaveLength(2);
    },
    budget(WAIT_MS, WAIT_MS, 1500),
  );

  it(
    'a server that accepts and drops at once does not reset the backoff (only a session up for stable_ms does)',
    async () => {
      const rig = await handServer((ws, frame) => {
        if (frame.type === 'hello') ws.close(1011, 'try again');
      });
      const a = agent({ url: rig.url, backoff_min_ms: 100, backoff_max_ms: 800 });
      await waitFor(() => a.lines.filter((l) => /retry in/.test(l)).length >= 5, 'five retries', 15_000);
      const delays = a.lines.filter((l) => /retry in/.test(l)).map((l) => Number(/retry in (\d+) ms/.exec(l)![1]));
      // 100, 200, 400, 800, 800 (+ up to 25 % jitter, capped at backoff_max_ms).
      expect(delays[0]).toBeLessThan(200);
      expect(delays[1]).toBeGreaterThanOrEqual(200);
      expect(delays[2]).toBeGreaterThanOrEqual(400);
      expect(delays[3]).toBe(800);
      expect(delays[4]).toBe(800);
    },
    budget(15_000),
  );
});

describe.skipIf(!pythonPath)('sim control over stdin (CPython)', () => {
  it(
    'lines that arrive together are applied one per poll: a starved agent does not merge them into a glitch',
    async () => {
      const server = newServer();
      const link = attachBoardLink(server, { token: TOKEN, heartbeatMs: 5000 });
      const port = await listen(server);
      cleanups.push(async () => {
        await link.close();
        await closeServer(server);
      });
      const a = agent({
        url: `ws://127.0.0.1:${port}/board`,
        pins: [{ pin: 4, mode: 'input' }],
        poll_ms: 5,
        debounce_ms: 2,
      });
      const board = link.board('cp');
      await waitFor(() => board.status === 'online', 'online', 15_000);
      const seen: number[] = [];
      board.watch(4, { debounceMs: 2 }, (e) => seen.push(e.value));
      await waitFor(async () => (await board.digitalRead(4)) === 0, 'watch set up');
      // One write: the stdin thread reads the four lines at once, as it does
      // when the process was starved while a test sent them 50 ms apart.
      a.send('set 4 1\nset 4 0\nset 4 1\nset 4 0');
      await waitFor(() => seen.length >= 4, 'four edges', 15_000).catch((error: Error) => {
        throw new Error(`${error.message}: got ${JSON.stringify(seen)}`);
      });
      expect(seen).toEqual([1, 0, 1, 0]);
    },
    budget(15_000, WAIT_MS + REQUEST_MS, 15_000),
  );
});
