# boardcast agent: the link to the server. One writer per connection: every
# outgoing frame (hello, results, edges, readings, pings, pongs, close) goes
# through one bounded Outbox drained by one task, because MicroPython's
# asyncio allows one waiting writer per socket (a second silently replaces
# the first when assertions are stripped, and the first never wakes again).

import json

from bc_util import asyncio, jittered, log, sleep_ms, ticks_add, ticks_diff, ticks_ms
from bc_ws import HandshakeError, close_writer, ws_connect

CRITICAL = 0  # hello, result, edge, pong: never dropped; overflow ends the session
READING = 1   # coalesced to the newest per sensor
PING = 2      # at most one queued
CONTROL = 3   # WebSocket control frame; key is the opcode, data the payload
CONFLICT = 4409


class Outbox:
    """Bounded FIFO of frames for one connection.

    Policy when `limit` frames are queued: a reading replaces the queued
    reading of the same sensor (or is dropped and counted when none is
    queued), a ping is dropped, a critical frame sets `overflow`, which makes
    the writer end the session: the server marks the board offline and the
    next hello + snapshot resyncs every level. Nothing is lost silently."""

    def __init__(self, limit):
        self.limit = limit
        self.items = []
        self.ev = asyncio.Event()
        self.overflow = False
        self.dropped = 0

    def put(self, kind, key, data):
        items = self.items
        if kind == READING or kind == PING:
            for i in range(len(items)):
                if items[i][0] == kind and items[i][1] == key:
                    items[i] = (kind, key, data)
                    return True
        if len(items) >= self.limit:
            if kind == READING or kind == PING:
                self.dropped += 1
                return False
            self.overflow = True
            self.ev.set()
            return False
        items.append((kind, key, data))
        self.ev.set()
        return True

    def full(self):
        return 'send queue full ({} frames) while the link stalled'.format(self.limit)

    def take(self):
        return self.items.pop(0) if self.items else None


class Link:
    def __init__(self, agent, opener=None):
        self.agent = agent
        self.cfg = agent.cfg
        self.opener = opener
        self.outbox = None
        self.conn = None
        self.conflict = False
        self.reason = None
        self.done = None
        self.last_rx = ticks_ms()
        self.write_since = None
        self.tasks = []
        self.warned = False
        self.token_refused = False

    # -- sending (any task may call send; only the writer touches the socket)

    def send(self, frame, kind=CRITICAL, key=None):
        """Queue a frame for the current session; False when there is none or it was refused."""
        ob = self.outbox
        if ob is None or self.conn is None:
            return False
        return ob.put(kind, key, json.dumps(frame))

    def control(self, opcode, payload):
        if self.outbox is not None:
            self.outbox.put(CONTROL, opcode, payload)

    async def writer(self, conn):
        ob = self.outbox
        while True:
            if ob.overflow:
                return ob.full()
            item = ob.take()
            if item is None:
                ob.ev.clear()
                await ob.ev.wait()
                continue
            kind, key, data = item
            if kind == CONTROL:
                conn.write(key, data)
            else:
                conn.write(1, data.encode())
            self.write_since = ticks_ms()
            await conn.drain()
            self.write_since = None
            if kind == CONTROL and key == 8:
                return 'closed'

    async def reader(self, conn):
        agent = self.agent
        while True:
            msg = await conn.recv()
            if msg is None:
                if conn.close_code == CONFLICT:
                    self.conflict = True
                return 'server closed ({})'.format(conn.close_code)
            self.last_rx = ticks_ms()
            if not isinstance(msg, dict):
                continue
            for reply in agent.handle(msg):
                self.send(reply)

    async def heartbeat(self, conn):
        agent = self.agent
        cfg = self.cfg
        next_ping = ticks_ms()
        while True:
            agent.beat('link')
            now = ticks_ms()
            limit = agent.heartbeat_ms * cfg['missed_heartbeats']
            silent = ticks_diff(now, self.last_rx)
            if silent > limit:
                return 'server silent for {} ms'.format(silent)
            if self.outbox.overflow:
                return self.outbox.full()  # the writer may sit in drain() for a while
            ws = self.write_since
            if ws is not None and ticks_diff(now, ws) > limit:
                return 'send stalled for {} ms'.format(ticks_diff(now, ws))
            if ticks_diff(now, next_ping) >= 0:
                next_ping = ticks_add(now, agent.heartbeat_ms)
                self.outbox.put(PING, None, json.dumps({'type': 'ping', 't': now}))
            await sleep_ms(min(1000, agent.heartbeat_ms // 2 or 1))

    async def guard(self, name, fn, conn):
        try:
            reason = await fn(conn)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            reason = '{}: {} {}'.format(name, type(e).__name__, e)
        if self.reason is None:
            self.reason = reason
        self.done.set()

    async def session(self, conn):
        agent = self.agent
        self.outbox = Outbox(self.cfg['send_queue'])
        self.conn = conn
        self.reason = None
        self.done = asyncio.Event()
        self.last_rx = ticks_ms()
        self.write_since = None
        conn.on_control = self.control
        agent.session_started()
        self.send(agent.hello())
        self.tasks = [asyncio.create_task(self.guard(n, f, conn))
                      for n, f in (('writer', self.writer), ('reader', self.reader), ('heartbeat', self.heartbeat))]
        try:
            await self.done.wait()
        finally:
            self.end(conn)
        return self.reason

    def end(self, conn):
        for t in self.tasks:
            t.cancel()
        self.tasks = []
        self.conn = None
        self.outbox = None
        close_writer(conn.writer, self.reason != 'closed')

    async def close(self, timeout_ms=1000):
        """Send a close frame through the writer and end the session within timeout_ms."""
        conn = self.conn
        if conn is None:
            return
        self.control(8, (1001).to_bytes(2, 'big'))
        waited = 0
        while self.conn is conn and waited < timeout_ms:
            await sleep_ms(20)
            waited += 20
        if self.conn is conn:
            self.reason = 'closed'
            self.done.set()

    # -- dialling, backoff

    async def pause(self, ms):
        # In slices, so the supervisor sees the link loop alive while it waits.
        while ms > 0 and self.agent.running:
            self.agent.beat('link')
            step = min(ms, 1000)
            await sleep_ms(step)
            ms -= step

    async def run(self):
        agent = self.agent
        cfg = self.cfg
        backoff = cfg['backoff_min_ms']
        conflict_backoff = cfg['conflict_backoff_ms']
        first_conflict = True
        while agent.running:
            agent.beat('link')
            self.conflict = False
            up = 0
            if not await agent.wifi_ready():
                reason = 'Wi-Fi not connected'
            else:
                try:
                    if cfg['url'].startswith('ws://') and cfg['token'] and not self.warned:
                        self.warned = True
                        log('note: ws:// sends the token in clear text; use wss:// beyond a trusted LAN')
                    conn = await asyncio.wait_for(ws_connect(cfg, self.opener), cfg['connect_timeout_ms'] / 1000)
                    log('connected', cfg['url'])
                    started = ticks_ms()
                    reason = await self.session(conn)
                    up = ticks_diff(ticks_ms(), started)
                except HandshakeError as e:
                    reason = str(e)
                    if e.status != 401:
                        log('refused', reason)
                    elif not self.token_refused:
                        # Said once: retrying cannot fix a wrong token, only the
                        # config (or the server's) can; later refusals show in
                        # the "disconnected ... retry" line.
                        self.token_refused = True
                        log('token refused (401): check `token` in the config (it must equal the server\'s BoardLink token)')
                except Exception as e:
                    reason = '{} {}'.format(type(e).__name__, e)
            if not agent.running:
                break
            if up >= cfg['stable_ms']:
                # Reset only after a session that stayed up: a server that
                # accepts and drops at once must not make the agent hammer it.
                backoff = cfg['backoff_min_ms']
                conflict_backoff = cfg['conflict_backoff_ms']
            if self.conflict and first_conflict:
                # The first refusal since boot is most likely this board's own
                # previous life: a reset (power, watchdog) leaves no FIN, so the
                # server holds the old socket until it misses its heartbeats
                # (it takes the id over after 1.5 periods). Waiting 30 s+ here
                # kept a rebooted board offline that long.
                first_conflict = False
                delay = jittered(2 * agent.heartbeat_ms, conflict_backoff)
                log('board_conflict: id', repr(cfg['id']), 'is still held (our connection before a reset?);',
                    'retry in', delay, 'ms')
            elif self.conflict:
                delay = jittered(conflict_backoff, cfg['conflict_backoff_max_ms'])
                conflict_backoff = min(conflict_backoff * 2, cfg['conflict_backoff_max_ms'])
                log('board_conflict: another agent is connected as id', repr(cfg['id']),
                    '- give each board its own id; retry in', delay, 'ms')
            else:
                delay = jittered(backoff, cfg['backoff_max_ms'])
                backoff = min(backoff * 2, cfg['backoff_max_ms'])
                log('disconnected', reason, 'retry in', delay, 'ms')
            await self.pause(delay)
