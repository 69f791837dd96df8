# boardcast agent: pin state, requests, input and sensor loops, the server
# clock estimate and the supervisor that feeds the hardware watchdog.

import sys

from bc_config import load
from bc_link import READING, Link
from bc_pins import Input, Ring, SimBackend, make_backend
from bc_util import MPY, VERSION, asyncio, log, sleep_ms, ticks_add, ticks_diff, ticks_ms, ticks_us

# machine.WDT timeout limits (ms) where a port has one; larger values raise.
WDT_MAX = {'rp2': 8388, 'esp8266': 5000, 'samd': 16000, 'stm32': 32000, 'mimxrt': 128000}
INPUT_MODES = ('input', 'input_pullup', 'input_pulldown')


def error_result(req_id, code, message):
    return {'type': 'result', 'id': req_id, 'ok': False, 'error': {'code': code, 'message': message}}


def ok(req_id, value):
    return {'type': 'result', 'id': req_id, 'ok': True, 'value': value}


class Agent:
    """The board side of boardcast-board.v1. config is a dict (see README);
    backend, opener, wdt and reboot may be injected (tests, other hardware)."""

    def __init__(self, config, backend=None, opener=None, wdt=None, reboot=None):
        cfg = load(config)
        self.cfg = cfg
        self.pins = cfg['pins']
        self.backend = backend or make_backend(cfg)
        self.link = Link(self, opener)
        self.wdt = wdt
        self.reboot_hook = reboot
        self.modes = {}
        self.inputs = {}
        self.pin_by_key = {}
        self.by_idx = [None] * len(self.pins)
        self.ring = Ring(cfg['irq_ring'])
        self.heartbeat_ms = cfg['heartbeat_ms']
        self.control = []
        self.running = True
        self.beats = {}
        self.restarted = {}
        self.tasks = {}
        self.last_server = ticks_ms()
        self.clock_t = None
        self.clock_s = 0
        self.wlan = None
        self.wifi_at = 0
        for i, p in enumerate(self.pins):
            p['idx'] = i
            self.pin_by_key[str(p['pin'])] = p
            # Outputs start inactive: logical 0, physical 1 when active_low.
            self.set_mode(p, p['mode'], 0)

    # -- pins (levels here are logical; inv flips them for active_low pins)

    def set_mode(self, spec, mode, initial):
        key = str(spec['pin'])
        inv = 1 if spec['active_low'] else 0
        self.backend.setup(spec['pin'], mode, initial ^ inv)
        self.modes[key] = mode
        old = self.inputs.pop(key, None)
        self.by_idx[spec['idx']] = None
        if mode in INPUT_MODES:
            inp = Input(spec['pin'], self.backend.read(spec['pin']) ^ inv,
                        spec.get('debounce_ms', self.cfg['debounce_ms']))
            inp.inv = inv
            if old is not None:
                inp.edge = old.edge
                inp.debounce_us = old.debounce_us
            self.inputs[key] = inp
            self.by_idx[spec['idx']] = inp
            if self.cfg['irq']:
                self.backend.watch(spec['pin'], spec['idx'], self.ring)

    def hello(self):
        pins = []
        for p in self.pins:
            item = {'pin': p['pin'], 'modes': p['modes'], 'mode': self.modes.get(str(p['pin']))}
            if 'name' in p:
                item['name'] = p['name']
            pins.append(item)
        impl = sys.implementation
        return {
            'type': 'hello', 'id': self.cfg['id'], 'backend': self.backend.name,
            'firmware': 'boardcast-agent/{} {}-{} {}'.format(
                VERSION, impl.name, '.'.join([str(x) for x in impl.version[:3]]), sys.platform),
            'pins': pins, 'sensors': [s['name'] for s in self.cfg['sensors']],
        }

    def level(self, spec):
        key = str(spec['pin'])
        inp = self.inputs.get(key)
        if inp is not None:
            return inp.stable
        return self.backend.read(spec['pin']) ^ (1 if spec['active_low'] else 0)

    def snapshot(self):
        pins = {}
        analog = {}
        for key, mode in self.modes.items():
            spec = self.pin_by_key[key]
            if mode == 'analog':
                analog[key] = self.backend.read_analog(spec['pin'])
            else:
                pins[key] = self.level(spec)
        sensors = {}
        for s in self.cfg['sensors']:
            try:
                sensors[s['name']] = self.backend.read_sensor(s)
            except Exception:
                pass
        return {'pins': pins, 'analog': analog, 'sensors': sensors}

    # -- the server's clock: offset = max(now - local); see README "Deadlines"

    def session_started(self):
        self.clock_t = None
        self.last_server = ticks_ms()

    def sync(self, now):
        if not isinstance(now, (int, float)) or isinstance(now, bool):
            return
        t = ticks_ms()
        if self.clock_t is not None:
            age = ticks_diff(t, self.clock_t)
            # What the kept sample predicts for now, less 100 ppm for crystal
            # drift so an old sample cannot keep a clock that runs ahead.
            predicted = self.clock_s + age - age // 10000
            if now < predicted and age < 0x10000000:
                return
        self.clock_t = t
        self.clock_s = now

    def server_now(self):
        if self.clock_t is None:
            return None
        return self.clock_s + ticks_diff(ticks_ms(), self.clock_t)

    # -- requests

    def handle(self, msg):
        """One decoded server frame in, a list of frames to send back out."""
        kind = msg.get('type')
        req_id = msg.get('id')
        self.last_server = ticks_ms()
        if kind in ('ping', 'pong', 'welcome'):
            self.sync(msg.get('now'))
            if kind == 'ping':
                return [{'type': 'pong', 't': msg.get('t')}]
            if kind == 'welcome':
                if msg.get('heartbeatMs'):
                    self.heartbeat_ms = int(msg['heartbeatMs'])
                log('online', self.cfg['id'])
            return []
        if kind == 'error':
            err = msg.get('error') or {}
            if isinstance(err, dict) and err.get('code') == 'board_conflict':
                self.link.conflict = True  # logged once, with the backoff, by the link
            else:
                log('server error', err)
            return []
        if req_id is None:
            return [{'type': 'error', 'error': {'code': 'invalid_payload', 'message': 'request needs an id'}}]
        deadline = msg.get('deadline')
        if isinstance(deadline, (int, float)):
            now = self.server_now()
            if now is not None and now > deadline:
                log('dropped', kind, 'id', req_id, 'late by', int(now - deadline), 'ms')
                return [error_result(req_id, 'timeout', 'deadline passed before execution')]
        try:
            return [self.request(kind, req_id, msg)]
        except Exception as e:
            return [error_result(req_id, 'handler_failed', '{}: {}'.format(kind, e))]

    def request(self, kind, req_id, msg):
        board = self.cfg['id']
        if kind == 'snapshot':
            return ok(req_id, self.snapshot())
        if kind == 'sensor':
            name = msg.get('name')
            for s in self.cfg['sensors']:
                if s['name'] == name:
                    return ok(req_id, self.backend.read_sensor(s))
            return error_result(req_id, 'unsupported', 'board {} has no sensor {}'.format(board, name))
        pin = msg.get('pin')
        spec = self.pin_by_key.get(str(pin))
        if spec is None:
            return error_result(req_id, 'unsupported', 'board {} has no pin {}'.format(board, pin))
        key = str(pin)
        mode = self.modes.get(key)
        if kind == 'mode':
            want = msg.get('mode')
            if want not in spec['modes']:
                return error_result(req_id, 'unsupported', 'board {} pin {} does not support {}'.format(board, pin, want))
            if want != mode or want == 'output' and 'initial' in msg:
                self.set_mode(spec, want, 1 if msg.get('initial') else 0)
            return ok(req_id, want)
        if kind == 'write':
            if mode != 'output':
                return error_result(req_id, 'unsupported', 'board {} pin {} is not an output'.format(board, pin))
            inv = 1 if spec['active_low'] else 0
            value = self.backend.write(spec['pin'], (1 if msg.get('value') else 0) ^ inv) ^ inv
            log('write', pin, value)
            return ok(req_id, value)
        if kind == 'read':
            if mode == 'analog':
                return error_result(req_id, 'unsupported', 'board {} pin {} is analog'.format(board, pin))
            return ok(req_id, self.level(spec))
        if kind == 'analog':
            if mode != 'analog':
                return error_result(req_id, 'unsupported', 'board {} pin {} is not analog'.format(board, pin))
            return ok(req_id, self.backend.read_analog(spec['pin']))
        if kind == 'watch' or kind == 'unwatch':
            inp = self.inputs.get(key)
            if inp is None:
                return error_result(req_id, 'unsupported', 'board {} pin {} is not an input'.format(board, pin))
            if kind == 'watch':
                inp.edge = msg.get('edge', 'both')
                if msg.get('debounceMs') is not None:
                    inp.debounce_us = int(msg['debounceMs']) * 1000
            else:
                inp.edge = None
            return ok(req_id, inp.stable)
        return error_result(req_id, 'unsupported', 'unknown request type ' + str(kind))

    # -- inputs: the IRQ ring first (exact times), then a poll (catches what IRQs missed)

    def on_raw(self, idx, level, t):
        inp = self.by_idx[idx] if idx < len(self.by_idx) else None
        if inp is not None:
            inp.step(level ^ inp.inv, t, self.on_edge)

    def on_edge(self, inp, level, t):
        e = inp.edge
        if e is None or not (e == 'both' or (e == 'rising') == (level == 1)):
            return
        # Without a session the edge has no reader; the next hello's snapshot carries the level.
        self.link.send({'type': 'edge', 'pin': inp.pin, 'value': level, 'at_us': t})

    def scan(self, now_us):
        ring = self.ring
        if ring.lost:
            log('irq ring overflowed,', ring.lost, 'transitions lost; levels resynced by polling')
            ring.lost = 0
        ring.drain(self.on_raw)
        read = self.backend.read
        for inp in self.inputs.values():
            inp.step(read(inp.pin) ^ inp.inv, now_us, self.on_edge)

    def run_control(self, line):
        """Sim control from stdin: press N | release N | set N V | sensor NAME V | quit."""
        words = line.split()
        if not words:
            return
        if words[0] == 'quit':
            self.stop()
            return
        if not isinstance(self.backend, SimBackend) or len(words) < 2:
            return
        try:
            cmd = words[0]
            spec = self.pin_by_key.get(words[1])
            pin = spec['pin'] if spec else words[1]
            pullup = self.modes.get(str(pin)) == 'input_pullup'
            if cmd == 'press':
                self.backend.set(pin, 0 if pullup else 1)
            elif cmd == 'release':
                self.backend.set(pin, 1 if pullup else 0)
            elif cmd == 'set':
                self.backend.set(pin, float(words[2]) if '.' in words[2] else int(words[2]))
            elif cmd == 'sensor':
                self.backend.overrides[words[1]] = float(words[2])
            log('control', line.strip())
        except Exception as e:
            log('bad control line', line.strip(), e)

    # -- loops

    def beat(self, name):
        self.beats[name] = ticks_ms()

    async def input_loop(self):
        poll = self.cfg['poll_ms']
        while self.running:
            self.beat('inputs')
            while self.control:
                self.run_control(self.control.pop(0))
            self.scan(ticks_us())
            await sleep_ms(poll)

    async def sensor_loop(self):
        due = {}
        while self.running:
            self.beat('sensors')
            now = ticks_ms()
            for s in self.cfg['sensors']:
                interval = s.get('interval_ms', 0)
                if not interval:
                    continue
                name = s['name']
                if name not in due or ticks_diff(now, due[name]) >= 0:
                    due[name] = ticks_add(now, interval)
                    try:
                        self.link.send({'type': 'reading', 'sensor': name, 'value': self.backend.read_sensor(s)},
                                       READING, name)
                    except Exception as e:
                        log('sensor', name, 'failed', e)
            await sleep_ms(100)

    async def wifi_ready(self):
        """True once the station is connected. ESP32/ESP8266 reconnect by
        themselves after connect() (calling it again while they do raises
        'Wifi Internal Error'); other ports get connect() again every 15 s."""
        wifi = self.cfg['wifi']
        if not wifi or not MPY:
            return True
        import network
        w = self.wlan
        now = ticks_ms()
        if w is None:
            w = network.WLAN(network.STA_IF)
            w.active(True)
            self.wlan = w
            if not w.isconnected():
                log('wifi connecting', wifi['ssid'])
                w.connect(wifi['ssid'], wifi.get('password', ''))
                self.wifi_at = now
        waited = 0
        while not w.isconnected() and waited < self.cfg['connect_timeout_ms']:
            self.beat('link')
            if sys.platform not in ('esp32', 'esp8266') and ticks_diff(ticks_ms(), self.wifi_at) > 15000:
                w.disconnect()
                w.connect(wifi['ssid'], wifi.get('password', ''))
                self.wifi_at = ticks_ms()
            await sleep_ms(250)
            waited += 250
        return w.isconnected()

    # -- supervisor

    def open_wdt(self):
        ms = self.cfg['hw_watchdog_ms']
        if not ms:
            return None, 1000
        cap = WDT_MAX.get(sys.platform)
        if cap and ms > cap:
            log('hw_watchdog_ms', ms, 'exceeds the', sys.platform, 'maximum; using', cap)
            ms = cap
        if self.wdt is None:
            if not MPY:
                log('hw_watchdog_ms: no hardware watchdog under CPython; use systemd WatchdogSec')
                return None, 1000
            import machine
            self.wdt = machine.WDT(timeout=ms)
        return self.wdt, min(1000, ms // 4)

    def limits(self):
        cfg = self.cfg
        base = cfg['stall_ms'] or 5000
        return {'inputs': base, 'sensors': base,
                'link': max(base, cfg['connect_timeout_ms'] + 5000, self.heartbeat_ms + 2000)}

    def start(self, name):
        fn = {'inputs': self.input_loop, 'sensors': self.sensor_loop, 'link': self.link.run}[name]
        self.beat(name)
        self.tasks[name] = asyncio.create_task(fn())

    def reboot(self, why):
        log('rebooting:', why)
        if self.reboot_hook is not None:
            self.reboot_hook(why)
            return
        if MPY:
            import machine
            machine.reset()
        raise SystemExit(3)  # under systemd (Restart=always) a fresh process starts

    async def supervise(self):
        """Feeds the hardware watchdog only while every loop beats; restarts a
        loop that stopped beating, and reboots when the restart did not help."""
        wdt, period = self.open_wdt()
        soft = self.cfg['watchdog_s'] * 1000
        while self.running:
            await sleep_ms(period)
            now = ticks_ms()
            healthy = True
            limits = self.limits()
            for name in self.tasks:
                age = ticks_diff(now, self.beats.get(name, now))
                if age <= limits[name]:
                    continue
                healthy = False
                since = self.restarted.get(name)
                if since is not None and ticks_diff(now, since) < 3 * limits[name]:
                    self.reboot('{} stuck again after a restart'.format(name))
                    return
                log('supervisor:', name, 'made no progress for', age, 'ms; restarting it')
                self.tasks[name].cancel()
                self.restarted[name] = now
                self.start(name)
            if healthy and wdt is not None:
                wdt.feed()
            if self.link.conn is not None:
                self.last_server = now
            elif soft and ticks_diff(now, self.last_server) > soft:
                log('watchdog: no server for', soft, 'ms')
                self.reboot('watchdog_s')
                return

    def stop(self):
        self.running = False

    async def run(self):
        for name in ('inputs', 'sensors', 'link'):
            self.start(name)
        sup = asyncio.create_task(self.supervise())
        try:
            while self.running and not sup.done():
                await sleep_ms(100)
            await self.link.close()
        finally:
            for t in self.tasks.values():
                t.cancel()
            sup.cancel()
