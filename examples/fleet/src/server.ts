import { once } from 'node:events';
import { createServer, IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  attachBoardLink,
  type Board,
  type BoardLink,
  type BoardLinkOptions,
  type BoardStatus,
  Button,
  bindBoardStatus,
  bindInputs,
  bindLed,
  bindSimulator,
  Led,
  registerBoard,
  SimulatedBoard,
} from '@boardcast/board-adapter-gpio';
import { RedisBus } from '@boardcast/bus-redis';
import { BoardcastError, type Channel, createHub, type Hub } from '@boardcast/core';
import { createProxyTrust, logSafe } from '@boardcast/core/server';
import { type Discovery, discoverDevices } from '@boardcast/mqtt';
import { boardcastHttp, createHostGuard, serverTimeouts, setSecurityHeaders } from '@boardcast/sse-server';
import { createWsEndpoint } from '@boardcast/ws-server';
import sirv from 'sirv';
import { BUTTON_PIN, contract, type FleetContract, initialBoard, LED_PIN } from './contract.js';
import { createFleetAccess, type UsersFile } from './users.js';

export interface FleetOptions {
  /** TCP port (default 3002; 0 picks a free one). */
  readonly port?: number;
  /** Interface to listen on (default all). */
  readonly host?: string;
  /** Simulated boards `board-<firstBoard>` … (default 12). */
  readonly boards?: number;
  /**
   * Number of the first simulated board (default 1): two instances on one
   * Redis split a fleet with `firstBoard: 1` and `firstBoard: 501`.
   */
  readonly firstBoard?: number;
  /**
   * Redis URL: share events, state and the directory with other instances
   * through @boardcast/bus-redis, so every instance's pages see every board;
   * a command for a board of another instance is run there (routed by
   * channel: the instance with the board's handler owns it).
   */
  readonly redis?: string | undefined;
  /** Users, their tokens and rights; none: one open `admin` who sees and switches everything. */
  readonly users?: UsersFile | undefined;
  /** Each simulated board changes its button about every this many ms (default 5000; 0: never). */
  readonly inputEveryMs?: number;
  /** Each simulated board sends a temperature reading this often (default 1000 ms; 0: never). */
  readonly readingEveryMs?: number;
  /** Host names besides localhost, IP literals and this machine's own (see the LED demo). */
  readonly allowedHosts?: readonly string[];
  /**
   * Reverse proxies in front (addresses or CIDR ranges, e.g. `127.0.0.1`
   * for nginx or Caddy on this machine; see the LED demo's `--trust-proxy`)
   * whose `X-Forwarded-For`/`-Host`/`-Proto` are believed on every route:
   * the stream, commands, WebSocket, board link, Host guard and the token
   * logins' throttling see the client behind the proxy and the page's
   * public address. Default: none, those headers are ignored.
   */
  readonly trustProxy?: readonly string[];
  /**
   * Accept remote boards (the board agent on an ESP32 or a Pi) on
   * `ws://…/board`, each with its own token bound to its id: board id →
   * token. Each board that says hello becomes a channel named by its id.
   */
  readonly boardLink?: Readonly<Record<string, string>> | undefined;
  /**
   * The board link's other options (`attachBoardLink`'s, e.g. `retentionMs`:
   * how long a board that left stays listed, offline, before the link forgets
   * it and the fleet removes its channel and directory entry, default
   * 600000 ms; `heartbeatMs`; `maxBoards`, default the number of `boardLink`
   * entries or 64, whichever is larger). Its tokens come from `boardLink`,
   * its path is `/board` and its Host check is `allowedHosts` with `trustProxy`.
   */
  readonly boardLinkOptions?: Omit<BoardLinkOptions, 'token' | 'path' | 'allowedHosts' | 'trustProxy'> | undefined;
  /**
   * Discover the devices on this MQTT broker (Tasmota discovery, Home
   * Assistant MQTT discovery under `homeassistant/`): each becomes a channel
   * named by its stable id, removed when its discovery config goes.
   */
  readonly mqttUrl?: string | undefined;
  /** Where index.html, app.js and style.css live (default `../public`). */
  readonly publicDir?: string;
  /** One line per connection and command; `false` silences it. */
  readonly log?: ((line: string) => void) | false;
}

export interface Fleet {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly hub: Hub<FleetContract>;
  /** The simulated boards by id. */
  readonly boards: ReadonlyMap<string, SimulatedBoard>;
  /** Add a simulated board while running (it appears on every page without a reload). */
  addBoard(id: string): Promise<void>;
  /** Remove a board: its channel, directory entry, state and history go. */
  removeBoard(id: string): Promise<void>;
  /** The board link, with `boardLink`. */
  readonly link: BoardLink | undefined;
  close(): Promise<void>;
}

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * The fleet: every board is a channel of one hub (its directory entry,
 * LED, button, status and readings), one page lists them live, and each
 * user sees and switches only the boards their row of the users file
 * names — on SSE, WebSocket and HTTP commands alike.
 */
export async function startFleet(options: FleetOptions = {}): Promise<Fleet> {
  const log = options.log === false ? () => undefined : (options.log ?? ((line: string) => console.log(line)));
  const count = options.boards ?? 12;
  const access = createFleetAccess(options.users, options.trustProxy);
  // A throttled wrong-token guess (429 `too_many_requests` from sse-server's createTokenAccess) is
  // expected traffic, not a server error: one log line per address per throttle window, and
  // `Retry-After` on the answer as the `/?token=` route sends it (the endpoints do not add it).
  const responses = new WeakMap<IncomingMessage, ServerResponse>();
  const throttledUntil = new Map<string, number>();
  // Behind a trusted proxy the guesser is the client it forwards for, not the proxy.
  const proxy = createProxyTrust(options.trustProxy);
  const throttled = (error: unknown, req: IncomingMessage | undefined): boolean => {
    if (!(error instanceof BoardcastError) || error.code !== 'too_many_requests') return false;
    const waitMs = (error.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
    const wait = typeof waitMs === 'number' && waitMs > 0 ? waitMs : 1000;
    const res = req && responses.get(req);
    if (res && !res.headersSent) res.setHeader('Retry-After', String(Math.ceil(wait / 1000)));
    const address =
      (req &&
        proxy.resolve({ remoteAddress: req.socket?.remoteAddress, encrypted: false }, (name) => headerOf(req, name))
          .clientAddress) ??
      'unknown';
    const now = Date.now();
    if ((throttledUntil.get(address) ?? 0) <= now) {
      log(`auth throttled: wrong tokens from ${logSafe(address)}; refused (429) for ${Math.ceil(wait / 1000)} s`);
    }
    throttledUntil.delete(address); // re-inserted last: the oldest window goes first
    throttledUntil.set(address, now + wait);
    for (const [key, until] of throttledUntil) {
      if (throttledUntil.size <= 10_000 && until > now) break;
      throttledUntil.delete(key);
    }
    return true;
  };
  const authorize = (request: { header(name: string): string | undefined; raw?: unknown }) => {
    try {
      return access.principal(request);
    } catch (error) {
      throttled(error, request.raw instanceof IncomingMessage ? request.raw : undefined);
      throw error;
    }
  };
  const first = options.firstBoard ?? 1;
  if (!Number.isInteger(first) || first < 0) throw new TypeError('firstBoard must be a whole number ≥ 0');
  // Every board publishes at once when the fleet starts (entry, status, LED)
  // and every second (a reading and its lastSeen): room for those bursts, so
  // they queue for Redis instead of being refused with `queue_full`.
  const bus = options.redis
    ? new RedisBus({ redis: options.redis, name: 'fleet', maxPendingPublishes: Math.max(1000, count * 8) })
    : undefined;
  const hub = createHub(contract, {
    state: initialBoard,
    bus,
    access: access.table,
    history: 20,
    maxChannels: Math.max(10_000, count + 100),
    commandTimeoutMs: 5000,
  });
  hub.on('error', (error, where) =>
    log(`error in ${where}: ${logSafe(error instanceof Error ? error.message : String(error), 300)}`),
  );
  await hub.ready;
  // Route by channel: a command for a board attached elsewhere goes to the instance that handles it.
  const router = bus?.routeCommands(hub, {});
  await router?.ready;
  const boards = new Map<string, SimulatedBoard>();
  const unbind = new Map<string, () => void>();

  async function addBoard(id: string): Promise<void> {
    if (boards.has(id)) return;
    // Only the pins the fleet uses, so each directory entry stays small (1,000 boards, one page).
    const board = new SimulatedBoard({
      id,
      pins: [
        { pin: BUTTON_PIN, modes: ['input', 'input_pullup'] },
        { pin: LED_PIN, modes: ['output'] },
      ],
      sensors: { temperature: { kind: 'noise', min: 19, max: 23 } },
    });
    boards.set(id, board);
    // The board registers itself: its channel, directory entry and status as state of the channel.
    const registered = board.register(hub, id, { firmware: 'sim-1.0', name: `Simulated ${id}` });
    const channel: Channel<FleetContract> = registered.channel;
    const offs = [
      registered.unregister,
      bindLed(channel, new Led(board, LED_PIN)),
      bindInputs(channel, [new Button(board, BUTTON_PIN, { debounceMs: 0 })]),
      bindSimulator(channel, board),
    ];
    unbind.set(id, () => {
      for (const off of offs) off();
    });
  }

  async function removeBoard(id: string): Promise<void> {
    const board = boards.get(id);
    if (!board) return;
    unbind.get(id)?.();
    unbind.delete(id);
    boards.delete(id);
    await board.close();
    await hub.channel(id).remove();
  }

  for (let i = first; i < first + count; i++) await addBoard(`board-${i}`);

  /** The network board bound to each channel (remote agents, MQTT devices). */
  const adopted = new Map<string, Board>();

  /**
   * A board from the network (remote agent, MQTT device) as a channel: its
   * LED (first output pin, pin 5 when it has one) and its button (pin 0)
   * when it has them, its status and its readings. A board that comes back
   * is the same channel: the same object (an agent that reconnects while the
   * link remembers it) stays bound; a new object with the same id (MQTT
   * described the device anew) replaces the old object's bindings, so its
   * events reach the channel and the channel's commands reach it (a remote
   * board the link forgot has lost its row already: `forgetRemote`). A
   * simulated board's id, or a channel another online board holds (`busy`),
   * is refused with a log line.
   */
  function adopt(board: Board, firmware: string | undefined, kind: string, name?: string): void {
    const previous = adopted.get(board.id);
    if (previous === board) return;
    if (boards.has(board.id)) {
      log(`${kind} ${logSafe(board.id)}: refused, a simulated board has this id`);
      return;
    }
    const channel = hub.channel(board.id);
    let unregister: () => void;
    try {
      // Takes the channel from the previous object (registerBoard: a board with the
      // holder's id while the holder is offline), or throws `busy` and changes nothing.
      unregister = registerBoard(channel, board, { firmware, kind, ...(name === undefined ? {} : { name }) });
    } catch (error) {
      const text = error instanceof BoardcastError ? `${error.code}: ${error.message}` : String(error);
      log(`${kind} ${logSafe(board.id)}: refused, ${logSafe(text, 300)}`);
      return;
    }
    // The previous object's handlers (the channel's `led` command) and listeners go before the new ones bind.
    unbind.get(board.id)?.();
    unbind.delete(board.id);
    const pins = board.capabilities.pins;
    const output =
      pins.find((p) => p.pin === LED_PIN && p.modes.includes('output')) ?? pins.find((p) => p.modes.includes('output'));
    const button = pins.find((p) => p.pin === BUTTON_PIN && p.modes.some((m) => m.startsWith('input')));
    const offs = [
      unregister,
      bindBoardStatus(channel, board),
      // A refused publish is logged from the hub's `error` event; it must not become an unhandled rejection.
      board.on('reading', (reading) => void channel.publish('reading', reading).catch(() => undefined)),
    ];
    // A board pushes readings when they change (a retained MQTT state is not a new reading):
    // read each sensor whenever it comes online, so the page has a value from the start.
    const readAll = () => {
      for (const sensor of board.capabilities.sensors) {
        board.readSensor(sensor).then(
          (value) => channel.publish('reading', { sensor, value, at: Date.now() }).catch(() => undefined),
          () => undefined, // gone again or not answering: the next reading it pushes will do
        );
      }
    };
    offs.push(board.on('status', (status) => status === 'online' && readAll()));
    if (board.status === 'online') readAll();
    if (output) {
      const led = new Led(board, output.pin);
      // Its setup is interrupted when the board leaves meanwhile (a churning board): one log line,
      // not an unhandled `error` trace on stderr; it sets up again when the board is back.
      led.on('error', (error) => {
        const text = error instanceof BoardcastError ? `${error.code}: ${error.message}` : String(error);
        log(`${kind} ${logSafe(board.id)}: led: ${logSafe(text, 300)}`);
      });
      offs.push(bindLed(channel, led));
    }
    if (button) {
      const input = new Button(board, button.pin);
      // Its setup (mode, watch, first read) fails when the board goes offline meanwhile:
      // one log line, not an unhandled `error` trace on stderr.
      input.on('error', (error) => {
        const text = error instanceof BoardcastError ? `${error.code}: ${error.message}` : String(error);
        log(`${kind} ${logSafe(board.id)}: button: ${logSafe(text, 300)}`);
      });
      offs.push(bindInputs(channel, [input]), () => input.close());
    }
    adopted.set(board.id, board);
    unbind.set(board.id, () => {
      for (const off of offs) off();
      if (adopted.get(board.id) === board) adopted.delete(board.id);
    });
  }

  /**
   * Unbind a remote board the link forgot and remove its channel: never another source's board
   * with its id, nor (on a shared bus) a row another instance's link holds online now.
   */
  function forgetRemote(board: Board): void {
    if (adopted.get(board.id) !== board) return;
    unbind.get(board.id)?.();
    unbind.delete(board.id);
    if (!hub.hasChannel(board.id) || hub.closed || hub.directory.get(board.id)?.status === 'online') return;
    hub
      .channel(board.id)
      .remove()
      .catch((error) =>
        log(`remote ${logSafe(board.id)}: removing its channel failed: ${logSafe(String(error), 300)}`),
      );
  }

  const server = createServer(serverTimeouts());
  let link: BoardLink | undefined;
  if (options.boardLink) {
    const credentials = Object.entries(options.boardLink).map(([id, token]) => ({ token, boards: id }));
    link = attachBoardLink(server, {
      // Every board of the file may be online at once (the link's own default is 64).
      maxBoards: Math.max(64, credentials.length),
      ...options.boardLinkOptions,
      token: credentials,
      path: '/board',
      allowedHosts: options.allowedHosts,
      trustProxy: options.trustProxy,
    });
    // The link applies the hello right after `connect`: read the board a microtask later.
    link.on('connect', (board) => queueMicrotask(() => adopt(board, board.firmware, 'remote')));
    // The link forgot a board that left (`retentionMs` after it went, default 10 min): its row goes
    // too — bindings, channel, directory entry, state and history — so ids that come and go do not
    // stay in memory for the process's life. Back again, it is a new board and a new row.
    link.on('forget', (board) => forgetRemote(board));
  }
  let discovery: Discovery | undefined;
  if (options.mqttUrl) {
    discovery = discoverDevices(options.mqttUrl, { maxDevices: 1000 });
    discovery.on('device', (device) => {
      // A changed description is a new board object for the same id: bind it afresh.
      unbind.get(device.id)?.();
      unbind.delete(device.id);
      adopt(device.board, device.firmware, device.kind, device.name);
    });
    discovery.on('removed', (id) => {
      unbind.get(id)?.();
      unbind.delete(id);
      if (hub.hasChannel(id)) {
        hub
          .channel(id)
          .remove()
          .catch((error) => log(`mqtt ${id}: removing its channel failed: ${logSafe(String(error), 300)}`));
      }
    });
    discovery.on('error', (error, id) => {
      // A refused or malformed discovery message: one line with its stable code (`forbidden`, `invalid_payload` …).
      const text = error instanceof BoardcastError ? `${error.code}: ${error.message}` : String(error);
      log(`mqtt ${id ?? ''}: ${logSafe(text, 300)}`);
    });
  }

  // Activity: each board flips its button about every inputEveryMs and sends a reading every readingEveryMs,
  // spread over one timer each so a thousand boards are not a thousand timers.
  const timers: ReturnType<typeof setInterval>[] = [];
  const inputEvery = options.inputEveryMs ?? 5000;
  if (inputEvery > 0) {
    timers.push(
      setInterval(() => {
        for (const board of boards.values()) {
          if (board.status === 'online' && Math.random() < 250 / inputEvery) {
            board.setInput(BUTTON_PIN, board.peek(BUTTON_PIN) === 0 ? 1 : 0);
          }
        }
      }, 250),
    );
  }
  const readingEvery = options.readingEveryMs ?? 1000;
  if (readingEvery > 0) {
    timers.push(
      setInterval(() => {
        const at = Date.now();
        for (const [id, board] of boards) {
          if (board.status !== 'online') continue;
          void board.readSensor('temperature').then(
            (value) => {
              const channel = hub.channel(id);
              const reading = { sensor: 'temperature', value: Math.round(value * 10) / 10, at };
              // Refusals (a shared bus full or away) are logged from the hub's `error` event.
              channel.publish('reading', reading).catch(() => undefined);
              channel.seen(at).catch(() => undefined);
            },
            () => undefined,
          );
        }
      }, readingEvery),
    );
  }

  const shared = { authorize, allowedHosts: options.allowedHosts, trustProxy: options.trustProxy };
  const api = boardcastHttp(hub, { base: '/api', ...shared });
  const ws = createWsEndpoint(hub, { server, path: '/api/ws', ...shared });
  hub.on('command', (c) =>
    log(
      `cmd  ${c.principal} ${logSafe(c.command)} → ${logSafe(c.channel)} via ${c.transport}: ${c.ok ? 'ok' : c.code}`,
    ),
  );

  const files = sirv(options.publicDir ?? `${here}../public`, { dev: true, etag: true });
  const hostGuard = createHostGuard(options.allowedHosts, options.trustProxy);

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    responses.set(req, res);
    void route(req, res).catch((error) => {
      if (!throttled(error, req))
        log(`error serving ${logSafe(req.method)} ${logSafe(req.url)}: ${logSafe(String(error), 300)}`);
      const failure = error instanceof BoardcastError ? error : new BoardcastError('handler_failed', 'internal error');
      if (!res.headersSent) sendJson(res, failure.status, failure.toBody());
      else res.destroy();
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    setSecurityHeaders(res);
    const foreign = hostGuard(req);
    if (foreign) return sendJson(res, foreign.status, foreign.toBody());
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/api/directory' || url.pathname === '/api/events') {
      const refused = directoryFilterError(url.searchParams);
      if (refused) return sendJson(res, refused.status, refused.toBody());
    }
    if (api.matches(url.pathname)) return api.node(req, res);
    if (url.pathname === '/api/me') {
      // Who the page is and what it may switch: the page greys out the other switches.
      const principal = authorize({ header: (name) => headerOf(req, name), raw: req });
      if (!principal) {
        return sendJson(res, 401, new BoardcastError('unauthorized', 'open the address with your ?token=').toBody());
      }
      const rule = access.rule(principal.id);
      return sendJson(res, 200, { user: principal.id, see: rule?.see ?? [], control: rule?.control ?? [] });
    }
    if (url.pathname.startsWith('/api/'))
      return sendJson(res, 404, new BoardcastError('not_found', 'no such route').toBody());
    if (access.login(req, res, url)) return;
    files(req, res, () => sendJson(res, 404, new BoardcastError('not_found', 'no such file').toBody()));
  }

  // Rejects with the listen error (EADDRINUSE, say) if that comes first.
  server.listen(options.port ?? 3002, options.host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://localhost:${port}/`,
    port,
    server,
    hub,
    boards,
    addBoard,
    removeBoard,
    link,
    close() {
      closed ??= (async () => {
        for (const timer of timers) clearInterval(timer);
        for (const off of unbind.values()) off();
        await api.close();
        await Promise.all([ws.close(), link?.close(), discovery?.close()]);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await Promise.all([...boards.values()].map((b) => b.close()));
        await router?.close();
        await hub.close(); // closes the bus too
      })();
      return closed;
    },
  };
}

/** Every `status` a fleet board's directory entry has (board-adapter-gpio's `BoardStatus`). */
const BOARD_STATUSES: readonly string[] = ['online', 'offline'] satisfies readonly BoardStatus[];

/**
 * The directory page's filters, checked before sse-server's endpoint: core
 * takes any string as `status`/`kind` (another app's statuses are its own),
 * so `?status=bogus` or an empty `?kind=` would be a 200 with no boards;
 * here a status is one a board can have and a kind is not empty.
 */
function directoryFilterError(params: URLSearchParams): BoardcastError | undefined {
  const status = params.get('status');
  if (status !== null && !BOARD_STATUSES.includes(status)) {
    return new BoardcastError(
      'invalid_payload',
      `directory "status" must be one of ${BOARD_STATUSES.join(', ')} (got ${JSON.stringify(status.slice(0, 40))})`,
    );
  }
  const kind = params.get('kind');
  if (kind !== null && kind.trim() === '') {
    return new BoardcastError('invalid_payload', 'directory "kind" must not be empty (omit it for every kind)');
  }
  return undefined;
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}
