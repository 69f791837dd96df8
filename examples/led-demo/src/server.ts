import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Board, type BoardLink, SimulatedBoard } from '@boardcast/board-adapter-gpio';
import { RedisBus } from '@boardcast/bus-redis';
import { BoardcastError, createHub, type Hub } from '@boardcast/core';
import { logSafe } from '@boardcast/core/server';
import {
  boardcastHttp,
  createHostGuard,
  readJsonBody,
  type ServerTimeouts,
  serverTimeouts,
  setSecurityHeaders,
} from '@boardcast/sse-server';
import { createWsEndpoint } from '@boardcast/ws-server';
import { createAccess } from './access.js';
import { bindBoard } from './bind-board.js';
import { type BoardChoice, createBoard, DEFAULT_PINS, type DemoPins, demoInputs } from './boards.js';
import { contract, type DemoContract, type DemoState, type InputInfo, type Level } from './contract.js';
import { sendError, sendJson } from './http-util.js';
import { createStaticFiles, isStaticPath } from './static-files.js';

/** Streams per remote address and endpoint: one per tab, room for a household behind one NAT, never all 1,000 slots. */
const STREAMS_PER_ADDRESS = 50;

export interface DemoOptions {
  /** TCP port (default 3000; 0 picks a free one). */
  readonly port?: number;
  /** Interface to listen on (default all interfaces, so phones on the LAN can open the page). */
  readonly host?: string;
  /** Which transport a freshly opened page uses (the page can switch). Default `sse`. */
  readonly transport?: 'sse' | 'ws';
  /** The board to drive (default: a simulated board). `none` serves pages only and needs `redis`. */
  readonly board?: BoardChoice | { readonly kind: 'none' };
  /** Redis URL: share events, ids and state with other instances through @boardcast/bus-redis. */
  readonly redis?: string | undefined;
  readonly pins?: Partial<DemoPins>;
  /** Where index.html, app.js and style.css live (default `../public` beside this file). */
  readonly publicDir?: string;
  /** One line per connection and per command; `false` silences it. Default `console.log`. */
  readonly log?: ((line: string) => void) | false;
  /** How often the server's time is published (default 1000 ms). */
  readonly timeIntervalMs?: number;
  /**
   * Keep-alive period of both transports (default 15000 ms): the SSE
   * `keepalive` frame and the WebSocket ping. One name, as in the packages.
   */
  readonly keepAliveMs?: number;
  /**
   * Host names besides localhost, IP literals and this machine's own name
   * that browsers and boards may use to reach the demo (a LAN name such as
   * `pi.lan`, or `.lan` for a whole domain). Every other `Host` is refused
   * with 403 `forbidden_host`: the defence against DNS rebinding.
   */
  readonly allowedHosts?: readonly string[];
  /**
   * Secret for the page and its commands. Unset (default): anyone who can
   * reach the port may watch and switch the LED. Set: every stream, command,
   * `/api/state` and `/api/sim/…` request needs the session cookie (open
   * `/?token=<secret>` once) or `Authorization: Bearer <secret>`; see access.ts.
   */
  readonly pageToken?: string | undefined;
  /** Node HTTP timeouts (ms); defaults in @boardcast/sse-server's `DEFAULT_SERVER_TIMEOUTS`. */
  readonly timeouts?: Partial<ServerTimeouts>;
  /** SSE streams, and WebSockets, one remote address may hold (default 50 each). */
  readonly maxStreamsPerAddress?: number;
  /**
   * Addresses or CIDR ranges of reverse proxies in front of the demo (nginx,
   * Caddy: usually `['127.0.0.1']`), whose `X-Forwarded-For`/`-Host`/`-Proto`
   * are believed: every viewer is then counted, logged and throttled as
   * itself, not as the proxy, and the page's public origin is accepted.
   * Default: none (forwarding headers ignored). See sse-server's README.
   */
  readonly trustProxy?: readonly string[];
}

export interface Demo {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly hub: Hub<DemoContract>;
  /** The board driven by this instance (`undefined` with `board: { kind: 'none' }`). */
  readonly board: Board | undefined;
  /** The board-link endpoint, with `--board remote`. */
  readonly link: BoardLink | undefined;
  /** Stop serving: ends every stream and socket, stops timers, closes the board. */
  close(): Promise<void>;
}

const here = fileURLToPath(new URL('.', import.meta.url));

export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const log = options.log === false ? () => undefined : (options.log ?? ((line: string) => console.log(line)));
  const transport = options.transport ?? 'sse';
  const pins: DemoPins = { ...DEFAULT_PINS, ...options.pins };
  const publicDir = options.publicDir ?? `${here}../public`;
  const serveStatic = createStaticFiles(publicDir, transport);

  const access = createAccess(options.pageToken, options.trustProxy);
  const server = createServer(serverTimeouts(options.timeouts));
  const created =
    options.board?.kind === 'none'
      ? undefined
      : await createBoard(options.board ?? { kind: 'sim' }, server, pins, options.allowedHosts, options.trustProxy);
  const board = created?.board;
  const link = created?.link;
  if (!board && !options.redis) throw new TypeError('a demo without a board needs a shared bus (--redis)');
  // Every value below that came from the network goes through logSafe (core):
  // a `%0A` in a command name or a `\n` in a board's firmware stays one line.
  // The link applies the hello right after `connect`, so read the board's data a microtask later.
  link?.on('connect', (b) =>
    queueMicrotask(() =>
      log(
        `board connect    ${logSafe(b.id)} firmware ${logSafe(b.firmware ?? 'unknown')}` +
          ` pins ${logSafe(b.capabilities.pins.map((p) => p.pin).join(',') || '-')}` +
          ` sensors ${logSafe(b.capabilities.sensors.join(',') || '-')}`,
      ),
    ),
  );
  link?.on('disconnect', (b, reason) => log(`board disconnect ${logSafe(b.id)} (${logSafe(reason)})`));
  link?.on('reject', (r) =>
    log(`board refused    ${logSafe(r.boardId ?? '?')} ${logSafe(r.remoteAddress ?? '')}: ${r.error.code}`),
  );

  // Names, labels and active levels per board kind (a Tasmota switch is not a pull-up button).
  const wiring = demoInputs(board, pins);
  const initialInputs: Record<string, InputInfo> = {};
  for (const [pin, input] of [
    [pins.button, wiring.button],
    [pins.input, wiring.input],
  ] as const) {
    // Idle is the level that is not active, until the board reports.
    initialInputs[String(pin)] = {
      name: input.name,
      label: input.label,
      level: input.activeLevel === 1 ? 0 : 1,
      activeLevel: input.activeLevel,
    };
  }
  // With Redis, every instance shares events, ids and state; the board's
  // instance runs the LED command and the others forward it there.
  const bus = options.redis ? new RedisBus({ redis: options.redis, name: 'led-demo' }) : undefined;
  const hub = createHub(contract, {
    state: {
      led: { on: false },
      inputs: initialInputs,
      time: new Date().toISOString(),
      board: board
        ? { id: board.id, kind: board.kind, status: board.status }
        : { id: 'none', kind: 'none', status: 'offline' },
    } satisfies DemoState,
    bus,
    history: 1000,
    commandTimeoutMs: 5000,
  });
  await hub.ready;
  const router = bus?.routeCommands(hub, { owns: () => board !== undefined });
  await router?.ready;

  const unbind: (() => void)[] = [];
  if (board) {
    unbind.push(
      bindBoard(hub, board, pins, (run) =>
        router
          ? router.handle('led', ({ state }, context) => run(state, context))
          : hub.handle('led', ({ state }, context) => run(state, context)),
      ),
    );
  } else {
    router?.forward('led');
  }

  // ---- time, every second (only where the board is: one clock per board)
  const tick = board
    ? setInterval(() => {
        void hub.publish('time', new Date().toISOString());
      }, options.timeIntervalMs ?? 1000)
    : undefined;

  // ---- transports on one port
  const api = boardcastHttp(hub, {
    base: '/api',
    authorize: access.authorize,
    allowedHosts: options.allowedHosts,
    trustProxy: options.trustProxy,
    sse: {
      keepAliveMs: options.keepAliveMs ?? 15_000,
      maxClientsPerAddress: options.maxStreamsPerAddress ?? STREAMS_PER_ADDRESS,
    },
  });
  const ws = createWsEndpoint(hub, {
    server,
    path: '/api/ws',
    keepAliveMs: options.keepAliveMs ?? 15_000,
    allowedHosts: options.allowedHosts,
    trustProxy: options.trustProxy,
    authorize: access.authorize,
    maxClientsPerAddress: options.maxStreamsPerAddress ?? STREAMS_PER_ADDRESS,
  });

  api.sse.on('connect', (c) =>
    log(`sse  connect    ${c.id}${c.lastEventId !== undefined ? ` resume ${logSafe(c.lastEventId)}` : ''}`),
  );
  api.sse.on('disconnect', (c, reason) => log(`sse  disconnect ${c.id} (${logSafe(reason)})`));
  ws.on('connect', (c) =>
    log(
      `ws   connect    ${c.id} ${logSafe(c.remoteAddress ?? '')}${c.lastEventId !== undefined ? ` resume ${logSafe(c.lastEventId)}` : ''}`,
    ),
  );
  ws.on('disconnect', (c, reason) => log(`ws   disconnect ${c.id} (${reason.code} ${logSafe(reason.cause)})`));
  api.commands.on('reject', (error, _req, command) =>
    log(`cmd  ${logSafe(command ?? '?')} via http: refused ${error.code}`),
  );
  api.sse.on('reject', (error) => log(`sse  refused    ${error.code}`));
  ws.on('reject', (rejection) => log(`ws   refused    ${rejection.status} ${rejection.code}`));
  hub.on('command', (c) =>
    log(
      `cmd  ${logSafe(c.command)} via ${c.transport}${c.clientId ? ` ${c.clientId}` : ''}: ${c.ok ? 'ok' : c.code} (${c.durationMs} ms)`,
    ),
  );
  hub.on('error', (error, where) =>
    log(`error in ${where}: ${logSafe(error instanceof Error ? error.message : String(error), 500)}`),
  );
  // Redis away is one line when it goes and one when it is back (pages show
  // "Server degraded"), not a stack trace per reconnect attempt.
  hub.on('busStatus', (status) => log(`bus  ${status}`));
  bus?.on('error', (error, where) => {
    if (hub.busStatus === 'ok') {
      log(`bus  error in ${where}: ${logSafe(error instanceof Error ? error.message : String(error), 500)}`);
    }
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    void route(req, res).catch((error) => {
      log(
        `error serving ${logSafe(req.method)} ${logSafe(req.url)}: ${logSafe(error instanceof Error ? error.message : String(error), 500)}`,
      );
      // A BoardcastError (429 from the token check's throttling) keeps its code; anything else is ours.
      const failure = error instanceof BoardcastError ? error : new BoardcastError('handler_failed', 'internal error');
      if (!res.headersSent) sendError(res, failure);
      else res.destroy();
    });
  });

  // The endpoints check Host themselves; the demo's own routes (page,
  // /api/state, /api/sim) get the same check, so a rebound name reaches nothing.
  const hostGuard = createHostGuard(options.allowedHosts, options.trustProxy);

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    setSecurityHeaders(res);
    const foreignHost = hostGuard(req);
    if (foreignHost) return sendError(res, foreignHost, req.readableEnded ? {} : { Connection: 'close' });
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { pathname } = url;
    if (api.matches(pathname)) return api.node(req, res);
    if (isStaticPath(pathname) && access.login(req, res, url)) return;
    // The same credential as the hook the transports call; the page's files themselves are public.
    if (pathname.startsWith('/api/') && !access.allows({ header: (name) => headerOf(req, name), raw: req })) {
      return sendError(res, new BoardcastError('unauthorized', 'open the address with ?token= printed at start-up'), {
        'WWW-Authenticate': 'Bearer',
        ...(req.readableEnded ? {} : { Connection: 'close' }),
      });
    }
    if (pathname === '/api/state') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendError(res, new BoardcastError('method_not_allowed', 'use GET'), { Allow: 'GET, HEAD' });
      }
      return sendJson(res, 200, hub.snapshot().json);
    }
    const sim = /^\/api\/sim\/inputs\/([^/]+)$/.exec(pathname);
    if (sim) {
      // `%ZZ` is no pin: 400, not a URIError's 500.
      let pin: string;
      try {
        pin = decodeURIComponent(sim[1] ?? '');
      } catch {
        return sendError(
          res,
          new BoardcastError('invalid_payload', 'the pin in the path is not valid percent-encoding'),
          req.readableEnded ? {} : { Connection: 'close' },
        );
      }
      return driveSimInput(req, res, pin);
    }
    if (isStaticPath(pathname)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return sendError(res, new BoardcastError('method_not_allowed', 'use GET'), { Allow: 'GET, HEAD' });
      }
      return serveStatic(req, res, pathname);
    }
    sendJson(res, 404, { error: { code: 'not_found', message: `no route for ${pathname}` } });
  }

  function headerOf(req: IncomingMessage, name: string): string | undefined {
    const value = req.headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  /** `POST /api/sim/inputs/<pin>` `{"value":0|1}`: the virtual board's inputs. */
  async function driveSimInput(req: IncomingMessage, res: ServerResponse, pin: string): Promise<void> {
    if (!(board instanceof SimulatedBoard)) {
      return sendJson(res, 404, { error: { code: 'not_found', message: 'the simulated board is not in use' } });
    }
    try {
      if (req.method !== 'POST') throw new BoardcastError('method_not_allowed', 'use POST');
      if (!Object.hasOwn(hub.state.inputs, pin)) {
        throw new BoardcastError('unsupported', `pin ${pin} is not one of the demo's inputs`);
      }
      const body = await readJsonBody(req, { maxBytes: 1024 });
      const value = (body as { value?: unknown } | null)?.value;
      if (value !== 0 && value !== 1) throw new BoardcastError('invalid_payload', 'value must be 0 or 1');
      board.setInput(Number(pin), value as Level);
      sendJson(res, 200, { pin: Number(pin), value });
    } catch (error) {
      const failure =
        error instanceof BoardcastError ? error : new BoardcastError('handler_failed', 'could not drive the input');
      // A refused body may be left unread: never parse it as the next request.
      const headers: Record<string, string> = req.readableEnded ? {} : { Connection: 'close' };
      if (failure.code === 'method_not_allowed') headers.Allow = 'POST';
      sendError(res, failure, headers);
    }
  }

  // Rejects with the listen error (EADDRINUSE, say) if that comes first.
  server.listen(options.port ?? 3000, options.host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  let closed: Promise<void> | undefined;
  return {
    url: `http://localhost:${port}/`,
    port,
    server,
    hub,
    board,
    link,
    close() {
      closed ??= (async () => {
        if (tick) clearInterval(tick);
        for (const fn of unbind) fn();
        await router?.close();
        await api.close();
        // Board sockets first: an upgraded socket keeps server.close() waiting,
        // and link.close() ends them with a close frame within its grace time.
        await Promise.all([ws.close(), link?.close()]);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await board?.close();
        await hub.close();
      })();
      return closed;
    },
  };
}
