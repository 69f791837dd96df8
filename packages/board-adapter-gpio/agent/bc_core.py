# boardcast agent: pin state, requests with deadlines, the server clock
# estimate, input edges. bc_agent.Agent adds the loops and the supervisor.

import sys

from bc_config import load
from bc_link import Link
from bc_pins import Input, Ring, make_backend
from bc_util import VERSION, log, ticks_diff, ticks_ms

INPUT_MODES = ('input', 'input_pullup', 'input_pulldown')


def error_result(req_id, code, message):
    return {'type': 'result', 'id': req_id, 'ok': False, 'error': {'code': code, 'message': message}}


def is_clock(value):
    """A finite number of ms (NaN and inf fail the range test)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and -1e15 < value < 1e15


def is_level(value):
    return isinstance(value, int) and not isinstance(value, bool) and (value == 0 or value == 1)


def ok(req_id, value):
    return {'type': 'result', 'id': req_id, 'ok': True, 'value': value}


class AgentCore:
    """The board side of boardcast-board.v1 without its loops (see bc_agent.Agent)."""

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

    def release_outputs(self):
        """The known end state when the agent stops (SIGTERM/SIGINT, stop(),
        quit): each output whose `release` is 'off' (the default) is driven
        inactive; 'keep' leaves it. A link that drops does not count: a Wi-Fi
        blip must not switch a relay. A reset or power loss makes every pin an
        input at boot, and the agent starts outputs inactive."""
        for spec in self.pins:
            key = str(spec['pin'])
            if self.modes.get(key) != 'output' or spec.get('release', 'off') == 'keep':
                continue
            try:
                level = self.backend.write(spec['pin'], 1 if spec['active_low'] else 0)
                log('stopping: output', key, 'driven inactive (level {})'.format(level))
            except Exception as e:
                log('release: pin', key, e)

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
        if not is_clock(now):
            # 1e309 parses as inf: kept, it would make every later request
            # "late" for the rest of the session.
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
                hb = msg.get('heartbeatMs')
                if isinstance(hb, int) and not isinstance(hb, bool) and hb >= 100:
                    self.heartbeat_ms = hb
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
        if deadline is not None and not is_clock(deadline):
            return [error_result(req_id, 'invalid_payload', 'deadline must be a finite number of ms')]
        if deadline is not None:
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
            initial = msg.get('initial', 0)
            if not is_level(initial):
                return error_result(req_id, 'invalid_payload', 'initial must be 0 or 1')
            if want != mode or want == 'output' and 'initial' in msg:
                self.set_mode(spec, want, initial)
            return ok(req_id, want)
        if kind == 'write':
            if mode != 'output':
                return error_result(req_id, 'unsupported', 'board {} pin {} is not an output'.format(board, pin))
            value = msg.get('value')
            if not is_level(value):
                # Truthiness would turn the string "0" (or [0]) into a 1 on the pin.
                return error_result(req_id, 'invalid_payload', 'write value must be 0 or 1')
            inv = 1 if spec['active_low'] else 0
            value = self.backend.write(spec['pin'], value ^ inv) ^ inv
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
