# boardcast board agent: one file for MicroPython (ESP32, ESP8266, Pico W) and
# CPython 3.9+ (Raspberry Pi). It dials the boardcast server over WebSocket
# (subprotocol boardcast-board.v1), says hello, answers write/read/mode
# requests by id with the real resulting value, reports debounced input edges
# and sensor readings, heartbeats, reconnects with backoff and keeps a watchdog.
#
# Written in the subset both interpreters share: no f-strings, no type
# annotations, no dataclasses, no print(flush=...), only modules MicroPython
# ships (optional ones are imported inside try/except).

import sys
import time
import json

try:
    import asyncio
except ImportError:  # older MicroPython
    import uasyncio as asyncio

try:
    import binascii
except ImportError:
    import ubinascii as binascii

try:
    import hashlib
except ImportError:
    hashlib = None

try:
    import os
except ImportError:
    os = None

try:
    import random
except ImportError:
    random = None

try:
    import math
except ImportError:
    math = None

VERSION = '0.1.0'
PROTOCOL = 'boardcast-board.v1'
WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
DIGITAL_MODES = ('input', 'input_pullup', 'input_pulldown', 'output')
ALL_MODES = DIGITAL_MODES + ('analog',)
IS_MICROPYTHON = sys.implementation.name == 'micropython'

DEFAULTS = {
    'id': 'board',
    'url': 'ws://127.0.0.1:3000/board',
    'token': '',
    'backend': 'auto',
    'pins': [],
    'sensors': [],
    'heartbeat_ms': 5000,
    'missed_heartbeats': 3,
    'poll_ms': 10,
    'debounce_ms': 20,
    'backoff_min_ms': 500,
    'backoff_max_ms': 30000,
    'connect_timeout_ms': 10000,
    'watchdog_s': 300,
    'hw_watchdog_ms': 0,
    'max_frame': 16384,
    'stdin_control': False,
    'wifi': None,
    'chip': None,
}


def log(*args):
    print('[boardcast-agent]', *args)
    flush = getattr(sys.stdout, 'flush', None)
    if flush:
        try:
            flush()
        except Exception:
            pass


# ---------------------------------------------------------------- time

if hasattr(time, 'ticks_ms'):
    def ticks_ms():
        return time.ticks_ms()

    def ticks_diff(a, b):
        return time.ticks_diff(a, b)

    def ticks_add(a, b):
        return time.ticks_add(a, b)
else:
    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b


async def sleep_ms(ms):
    await asyncio.sleep(ms / 1000)


def random_bytes(n):
    if os is not None and hasattr(os, 'urandom'):
        try:
            return os.urandom(n)
        except Exception:
            pass
    if random is not None:
        return bytes([random.getrandbits(8) for _ in range(n)])
    t = ticks_ms()
    return bytes([(t >> (i % 4 * 8) ^ (i * 73)) & 0xFF for i in range(n)])


def jitter(ms):
    if random is None:
        return ms
    return ms // 2 + random.getrandbits(16) % (ms // 2 + 1)


# ---------------------------------------------------------------- pins


def pin_key(pin):
    return str(pin)


def normalize_pins(pins):
    out = []
    for entry in pins:
        mode = entry.get('mode', 'input')
        modes = entry.get('modes')
        if not modes:
            modes = list(DIGITAL_MODES)
            if mode == 'analog' or entry.get('analog'):
                modes.append('analog')
        if mode not in modes:
            raise ValueError('pin {} mode {} is not in its modes'.format(entry.get('pin'), mode))
        item = {'pin': entry['pin'], 'mode': mode, 'modes': modes}
        if 'name' in entry:
            item['name'] = entry['name']
        if 'debounce_ms' in entry:
            item['debounce_ms'] = entry['debounce_ms']
        out.append(item)
    return out


def default_level(mode):
    # What an unconnected input reads: pulled up reads 1, otherwise 0.
    return 1 if mode == 'input_pullup' else 0


class SimBackend:
    """Pins and sensors in memory; driven by stdin lines or by calling press()."""

    name = 'sim'

    def __init__(self, config):
        self.levels = {}
        self.analog = {}
        self.modes = {}
        self.sensor_overrides = {}
        self.sensors = {}
        self.started = ticks_ms()
        for s in config.get('sensors', []):
            self.sensors[s['name']] = s

    def setup(self, pin, mode):
        key = pin_key(pin)
        self.modes[key] = mode
        if mode == 'output':
            self.levels[key] = self.levels.get(key, 0)
        elif mode != 'analog' and key not in self.levels:
            self.levels[key] = default_level(mode)

    def read(self, pin):
        return self.levels.get(pin_key(pin), 0)

    def write(self, pin, value):
        self.levels[pin_key(pin)] = 1 if value else 0
        return self.read(pin)

    def read_analog(self, pin):
        return self.analog.get(pin_key(pin), 0)

    def read_sensor(self, name):
        if name in self.sensor_overrides:
            return self.sensor_overrides[name]
        spec = self.sensors.get(name)
        if spec is None:
            raise KeyError(name)
        low = spec.get('min', 0)
        high = spec.get('max', 100)
        period = spec.get('period_ms', 10000) or 1
        phase = (ticks_diff(ticks_ms(), self.started) % period) / period
        if spec.get('wave') == 'square':
            return high if phase < 0.5 else low
        if math is None:
            return low + (high - low) * phase
        return round(low + (high - low) * (0.5 + 0.5 * math.sin(2 * math.pi * phase)), 3)

    # sim controls (stdin: press N / release N / set N V / sensor NAME V)
    def press(self, pin):
        self.levels[pin_key(pin)] = 0 if self.modes.get(pin_key(pin)) == 'input_pullup' else 1

    def release(self, pin):
        self.levels[pin_key(pin)] = 1 if self.modes.get(pin_key(pin)) == 'input_pullup' else 0

    def set(self, pin, value):
        key = pin_key(pin)
        if self.modes.get(key) == 'analog':
            self.analog[key] = value
        else:
            self.levels[key] = 1 if value else 0


class MachineBackend:
    """MicroPython boards through machine.Pin / machine.ADC."""

    name = 'machine'

    def __init__(self, config):
        import machine
        self.machine = machine
        self.pins = {}
        self.adcs = {}
        self.sensors = {}
        for s in config.get('sensors', []):
            self.sensors[s['name']] = s

    def setup(self, pin, mode):
        m = self.machine
        key = pin_key(pin)
        self.adcs.pop(key, None)
        if mode == 'output':
            self.pins[key] = m.Pin(pin, m.Pin.OUT)
        elif mode == 'analog':
            adc = m.ADC(m.Pin(pin))
            if hasattr(adc, 'atten') and hasattr(m.ADC, 'ATTN_11DB'):
                adc.atten(m.ADC.ATTN_11DB)
            self.adcs[key] = adc
        else:
            pull = None
            if mode == 'input_pullup':
                pull = m.Pin.PULL_UP
            elif mode == 'input_pulldown':
                pull = getattr(m.Pin, 'PULL_DOWN', None)
            self.pins[key] = m.Pin(pin, m.Pin.IN, pull)

    def read(self, pin):
        return self.pins[pin_key(pin)].value()

    def write(self, pin, value):
        p = self.pins[pin_key(pin)]
        p.value(1 if value else 0)
        return p.value()

    def read_analog(self, pin):
        adc = self.adcs[pin_key(pin)]
        return adc.read_u16() if hasattr(adc, 'read_u16') else adc.read()

    def read_sensor(self, name):
        spec = self.sensors.get(name)
        if spec is None:
            raise KeyError(name)
        kind = spec.get('kind', 'adc')
        if kind == 'adc':
            adc = self.adcs.get(pin_key(spec['pin']))
            if adc is None:
                self.setup(spec['pin'], 'analog')
                adc = self.adcs[pin_key(spec['pin'])]
            raw = adc.read_u16() if hasattr(adc, 'read_u16') else adc.read()
            return raw * spec.get('scale', 1) + spec.get('offset', 0)
        import esp32
        if kind == 'hall':
            return esp32.hall_sensor()
        if kind == 'temperature':
            if hasattr(esp32, 'mcu_temperature'):
                return esp32.mcu_temperature()
            return (esp32.raw_temperature() - 32) / 1.8
        raise KeyError(name)


class LgpioBackend:
    """Raspberry Pi (all models incl. Pi 5) through lgpio and /dev/gpiochipN."""

    name = 'lgpio'

    def __init__(self, config):
        import lgpio
        self.lg = lgpio
        self.handle = self._open_chip(config.get('chip'), config.get('pins', []))
        self.claimed = set()
        self.levels = {}

    def _open_chip(self, chip, pins):
        lg = self.lg
        if chip is not None:
            return lg.gpiochip_open(int(chip))
        # The Pi 5 exposes its header on gpiochip4 with older kernels and
        # gpiochip0 with newer ones: pick the chip whose lines are named GPIOn.
        want = 'GPIO{}'.format(pins[0]['pin']) if pins else 'GPIO2'
        for n in range(0, 16):
            try:
                h = lg.gpiochip_open(n)
            except Exception:
                continue
            try:
                info = lg.gpio_get_chip_info(h)
                for offset in range(info[1]):
                    if lg.gpio_get_line_info(h, offset)[3] == want:
                        return h
            except Exception:
                pass
            lg.gpiochip_close(h)
        raise OSError('no gpiochip has a line named ' + want)

    def setup(self, pin, mode):
        lg = self.lg
        if pin in self.claimed:
            lg.gpio_free(self.handle, pin)
        if mode == 'output':
            lg.gpio_claim_output(self.handle, pin, 0)
        elif mode == 'analog':
            raise ValueError('the Pi has no analog inputs')
        else:
            flags = 0
            if mode == 'input_pullup':
                flags = lg.SET_PULL_UP
            elif mode == 'input_pulldown':
                flags = lg.SET_PULL_DOWN
            lg.gpio_claim_input(self.handle, pin, flags)
        self.claimed.add(pin)

    def read(self, pin):
        return self.lg.gpio_read(self.handle, pin)

    def write(self, pin, value):
        self.lg.gpio_write(self.handle, pin, 1 if value else 0)
        return self.lg.gpio_read(self.handle, pin)

    def read_analog(self, pin):
        raise ValueError('the Pi has no analog inputs')

    def read_sensor(self, name):
        if name == 'cpu_temperature':
            with open('/sys/class/thermal/thermal_zone0/temp') as f:
                return int(f.read().strip()) / 1000
        raise KeyError(name)


def make_backend(config):
    kind = config.get('backend', 'auto')
    if kind == 'sim':
        return SimBackend(config)
    if kind == 'machine' or (kind == 'auto' and IS_MICROPYTHON):
        return MachineBackend(config)
    if kind == 'lgpio' or kind == 'auto':
        return LgpioBackend(config)
    raise ValueError('unknown backend ' + str(kind))


# ---------------------------------------------------------------- websocket client


def parse_url(url):
    if url.startswith('ws://'):
        scheme, rest, port = 'ws', url[5:], 80
    elif url.startswith('wss://'):
        scheme, rest, port = 'wss', url[6:], 443
    else:
        raise ValueError('url must start with ws:// or wss://')
    slash = rest.find('/')
    hostport, path = (rest, '/') if slash < 0 else (rest[:slash], rest[slash:])
    colon = hostport.rfind(':')
    host = hostport
    if colon > 0 and hostport[colon + 1:].isdigit():
        host, port = hostport[:colon], int(hostport[colon + 1:])
    return scheme, host, port, path


def apply_mask(data, key):
    out = bytearray(data)
    for i in range(len(out)):
        out[i] ^= key[i & 3]
    return bytes(out)


def encode_frame(opcode, payload, mask_key):
    """A single FIN frame; clients must mask (RFC 6455 5.3)."""
    n = len(payload)
    head = bytearray([0x80 | opcode])
    if n < 126:
        head.append(0x80 | n)
    elif n < 65536:
        head.append(0x80 | 126)
        head.extend(n.to_bytes(2, 'big'))
    else:
        head.append(0x80 | 127)
        head.extend(n.to_bytes(8, 'big'))
    head.extend(mask_key)
    return bytes(head) + apply_mask(payload, mask_key)


async def read_frame(reader, max_size):
    """Returns (fin, opcode, payload); server frames arrive unmasked."""
    head = await reader.readexactly(2)
    fin = head[0] & 0x80
    opcode = head[0] & 0x0F
    masked = head[1] & 0x80
    n = head[1] & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), 'big')
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), 'big')
    if n > max_size:
        raise ValueError('frame of {} bytes exceeds max_frame'.format(n))
    key = await reader.readexactly(4) if masked else None
    payload = await reader.readexactly(n) if n else b''
    if key:
        payload = apply_mask(payload, key)
    return fin, opcode, payload


class HandshakeError(Exception):
    pass


def accept_key(key):
    if hashlib is None or not hasattr(hashlib, 'sha1'):
        return None
    digest = hashlib.sha1((key + WS_GUID).encode()).digest()
    return binascii.b2a_base64(digest).decode().strip()


def build_handshake(host, port, path, key, token):
    lines = [
        'GET {} HTTP/1.1'.format(path),
        'Host: {}:{}'.format(host, port),
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: ' + key,
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Protocol: ' + PROTOCOL,
        'User-Agent: boardcast-agent/' + VERSION,
    ]
    if token:
        lines.append('Authorization: Bearer ' + token)
    return ('\r\n'.join(lines) + '\r\n\r\n').encode()


async def default_opener(host, port, tls):
    if tls:
        try:
            import ssl
            return await asyncio.open_connection(host, port, ssl=ssl.create_default_context())
        except AttributeError:
            return await asyncio.open_connection(host, port, ssl=True)
    return await asyncio.open_connection(host, port)


class WsConn:
    def __init__(self, reader, writer, max_frame):
        self.reader = reader
        self.writer = writer
        self.max_frame = max_frame
        self.closed = False

    async def send_frame(self, opcode, payload):
        if self.closed:
            raise OSError('connection closed')
        self.writer.write(encode_frame(opcode, payload, random_bytes(4)))
        await self.writer.drain()

    async def send_text(self, text):
        await self.send_frame(0x1, text.encode())

    async def recv(self):
        """Next text message, or None when the server closed. Answers pings."""
        parts = []
        while True:
            fin, opcode, payload = await read_frame(self.reader, self.max_frame)
            if opcode == 0x9:
                await self.send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                if not self.closed:
                    try:
                        await self.send_frame(0x8, payload[:2])
                    except Exception:
                        pass
                self.closed = True
                return None
            if opcode in (0x1, 0x2, 0x0):
                parts.append(payload)
                if sum(len(p) for p in parts) > self.max_frame:
                    raise ValueError('message exceeds max_frame')
                if fin:
                    return b''.join(parts).decode()

    async def close(self, code=1000):
        if not self.closed:
            try:
                await self.send_frame(0x8, code.to_bytes(2, 'big'))
            except Exception:
                pass
        self.closed = True
        try:
            self.writer.close()
            if hasattr(self.writer, 'wait_closed'):
                await self.writer.wait_closed()
        except Exception:
            pass


async def ws_connect(url, token, max_frame, opener=None):
    scheme, host, port, path = parse_url(url)
    reader, writer = await (opener or default_opener)(host, port, scheme == 'wss')
    key = binascii.b2a_base64(random_bytes(16)).decode().strip()
    writer.write(build_handshake(host, port, path, key, token))
    await writer.drain()
    status = (await reader.readline()).decode().strip()
    headers = {}
    while True:
        line = (await reader.readline()).decode().strip()
        if not line:
            break
        colon = line.find(':')
        if colon > 0:
            headers[line[:colon].strip().lower()] = line[colon + 1:].strip()
    parts = status.split(' ')
    if len(parts) < 2 or parts[1] != '101':
        writer.close()
        raise HandshakeError('server refused: ' + status)
    expected = accept_key(key)
    if expected is not None and headers.get('sec-websocket-accept') != expected:
        writer.close()
        raise HandshakeError('bad Sec-WebSocket-Accept')
    if headers.get('sec-websocket-protocol') != PROTOCOL:
        writer.close()
        raise HandshakeError('server did not accept ' + PROTOCOL)
    return WsConn(reader, writer, max_frame)


# ---------------------------------------------------------------- the agent


class Input:
    """Device-side debounce: a level counts once it held for debounce_ms."""

    def __init__(self, level, debounce_ms):
        self.stable = level
        self.candidate = level
        self.since = ticks_ms()
        self.debounce_ms = debounce_ms
        self.edge = None  # None: not watched

    def step(self, raw, now):
        """Feed a raw sample; returns the new stable level when it changed, else None."""
        if raw != self.candidate:
            self.candidate = raw
            self.since = now
        if self.candidate != self.stable and ticks_diff(now, self.since) >= self.debounce_ms:
            self.stable = self.candidate
            return self.stable
        return None


def error_result(req_id, code, message):
    return {'type': 'result', 'id': req_id, 'ok': False, 'error': {'code': code, 'message': message}}


class Agent:
    def __init__(self, config, backend=None, opener=None):
        cfg = dict(DEFAULTS)
        cfg.update(config)
        self.config = cfg
        self.pins = normalize_pins(cfg['pins'])
        self.backend = backend or make_backend(cfg)
        self.opener = opener
        self.modes = {}
        self.inputs = {}
        self.pin_by_key = {}
        self.heartbeat_ms = cfg['heartbeat_ms']
        self.control = []
        self.conn = None
        self.last_server = ticks_ms()
        self.running = True
        self.connected_once = False
        for p in self.pins:
            self.pin_by_key[pin_key(p['pin'])] = p
            self.set_mode(p['pin'], p['mode'])

    # -- pins

    def set_mode(self, pin, mode):
        self.backend.setup(pin, mode)
        key = pin_key(pin)
        self.modes[key] = mode
        if mode in ('input', 'input_pullup', 'input_pulldown'):
            spec = self.pin_by_key.get(key, {})
            old = self.inputs.get(key)
            inp = Input(self.backend.read(pin), spec.get('debounce_ms', self.config['debounce_ms']))
            if old is not None:
                inp.edge = old.edge
                inp.debounce_ms = old.debounce_ms
            self.inputs[key] = inp
        else:
            self.inputs.pop(key, None)

    def find_pin(self, pin):
        return self.pin_by_key.get(pin_key(pin))

    def hello(self):
        pins = []
        for p in self.pins:
            item = {'pin': p['pin'], 'modes': p['modes'], 'mode': self.modes.get(pin_key(p['pin']))}
            if 'name' in p:
                item['name'] = p['name']
            pins.append(item)
        firmware = 'boardcast-agent/{} {}-{} {}'.format(
            VERSION, sys.implementation.name, '.'.join([str(x) for x in sys.implementation.version[:3]]),
            sys.platform)
        return {
            'type': 'hello',
            'id': self.config['id'],
            'firmware': firmware,
            'backend': self.backend.name,
            'pins': pins,
            'sensors': [s['name'] for s in self.config['sensors']],
        }

    def snapshot(self):
        pins = {}
        analog = {}
        for key, mode in self.modes.items():
            p = self.pin_by_key[key]['pin']
            if mode == 'analog':
                analog[key] = self.backend.read_analog(p)
            elif key in self.inputs:
                pins[key] = self.inputs[key].stable
            else:
                pins[key] = self.backend.read(p)
        sensors = {}
        for s in self.config['sensors']:
            try:
                sensors[s['name']] = self.backend.read_sensor(s['name'])
            except Exception:
                pass
        return {'pins': pins, 'analog': analog, 'sensors': sensors}

    def handle(self, msg):
        """One decoded server frame in, a list of frames to send back out."""
        kind = msg.get('type')
        req_id = msg.get('id')
        if kind == 'ping':
            return [{'type': 'pong', 't': msg.get('t')}]
        if kind in ('pong', 'welcome'):
            if kind == 'welcome' and msg.get('heartbeatMs'):
                self.heartbeat_ms = int(msg['heartbeatMs'])
            return []
        if kind == 'error':
            log('server error', msg.get('error'))
            return []
        if req_id is None:
            return [{'type': 'error', 'error': {'code': 'invalid_payload', 'message': 'request needs an id'}}]
        try:
            return [self.request(kind, req_id, msg)]
        except Exception as e:
            return [error_result(req_id, 'handler_failed', '{}: {}'.format(kind, e))]

    def request(self, kind, req_id, msg):
        if kind == 'snapshot':
            return {'type': 'result', 'id': req_id, 'ok': True, 'value': self.snapshot()}
        if kind == 'sensor':
            name = msg.get('name')
            try:
                value = self.backend.read_sensor(name)
            except KeyError:
                return error_result(req_id, 'unsupported', 'board {} has no sensor {}'.format(self.config['id'], name))
            return {'type': 'result', 'id': req_id, 'ok': True, 'value': value}
        pin = msg.get('pin')
        spec = self.find_pin(pin)
        if spec is None:
            return error_result(req_id, 'unsupported', 'board {} has no pin {}'.format(self.config['id'], pin))
        key = pin_key(pin)
        mode = self.modes.get(key)
        if kind == 'mode':
            want = msg.get('mode')
            if want not in spec['modes']:
                return error_result(req_id, 'unsupported',
                                    'board {} pin {} does not support {}'.format(self.config['id'], pin, want))
            if want != mode:
                self.set_mode(spec['pin'], want)
            return {'type': 'result', 'id': req_id, 'ok': True, 'value': want}
        if kind == 'write':
            if mode != 'output':
                return error_result(req_id, 'unsupported',
                                    'board {} pin {} is not an output'.format(self.config['id'], pin))
            value = self.backend.write(spec['pin'], 1 if msg.get('value') else 0)
            log('write', pin, value)
            return {'type': 'result', 'id': req_id, 'ok': True, 'value': value}
        if kind == 'read':
            if mode == 'analog':
                return error_result(req_id, 'unsupported', 'board {} pin {} is analog'.format(self.config['id'], pin))
            inp = self.inputs.get(key)
            value = inp.stable if inp is not None else self.backend.read(spec['pin'])
            return {'type': 'result', 'id': req_id, 'ok': True, 'value': value}
        if kind == 'analog':
            if mode != 'analog':
                return error_result(req_id, 'unsupported',
                                    'board {} pin {} is not analog'.format(self.config['id'], pin))
            return {'type': 'result', 'id': req_id, 'ok': True, 'value': self.backend.read_analog(spec['pin'])}
        if kind == 'watch' or kind == 'unwatch':
            inp = self.inputs.get(key)
            if inp is None:
                return error_result(req_id, 'unsupported',
                                    'board {} pin {} is not an input'.format(self.config['id'], pin))
            if kind == 'watch':
                inp.edge = msg.get('edge', 'both')
                if msg.get('debounceMs') is not None:
                    inp.debounce_ms = int(msg['debounceMs'])
            else:
                inp.edge = None
            return {'type': 'result', 'id': req_id, 'ok': True, 'value': inp.stable}
        return error_result(req_id, 'unsupported', 'unknown request type ' + str(kind))

    def poll_inputs(self, now):
        """Sample inputs once; returns the edge frames to send."""
        edges = []
        for key, inp in self.inputs.items():
            changed = inp.step(self.backend.read(self.pin_by_key[key]['pin']), now)
            if changed is None or inp.edge is None:
                continue
            if inp.edge == 'both' or (inp.edge == 'rising') == (changed == 1):
                edges.append({'type': 'edge', 'pin': self.pin_by_key[key]['pin'], 'value': changed})
        return edges

    def run_control(self, line):
        """Sim control from stdin: press N | release N | set N V | sensor NAME V."""
        words = line.split()
        if not words or not isinstance(self.backend, SimBackend):
            return
        cmd = words[0]
        try:
            if cmd == 'quit':
                self.running = False
                return
            target = self.find_pin(words[1])
            pin = target['pin'] if target else words[1]
            if cmd == 'press':
                self.backend.press(pin)
            elif cmd == 'release':
                self.backend.release(pin)
            elif cmd == 'set':
                self.backend.set(pin, float(words[2]) if '.' in words[2] else int(words[2]))
            elif cmd == 'sensor':
                self.backend.sensor_overrides[words[1]] = float(words[2])
            log('control', line.strip())
        except Exception as e:
            log('bad control line', line.strip(), e)

    # -- network

    async def send(self, frame):
        conn = self.conn
        if conn is not None:
            await conn.send_text(json.dumps(frame))

    async def session(self, conn):
        self.conn = conn
        self.last_server = ticks_ms()
        await self.send(self.hello())
        tasks = [asyncio.create_task(self.heartbeat_loop(conn)), asyncio.create_task(self.sensor_loop())]
        try:
            while self.running:
                text = await conn.recv()
                if text is None:
                    return 'server closed'
                self.last_server = ticks_ms()
                try:
                    msg = json.loads(text)
                except ValueError:
                    log('bad frame from server')
                    continue
                if not isinstance(msg, dict):
                    continue
                if msg.get('type') == 'welcome':
                    log('online', self.config['id'])
                for reply in self.handle(msg):
                    await self.send(reply)
            return 'stopped'
        finally:
            self.conn = None
            for t in tasks:
                t.cancel()
            await conn.close()

    async def heartbeat_loop(self, conn):
        while not conn.closed:
            await sleep_ms(self.heartbeat_ms)
            silent = ticks_diff(ticks_ms(), self.last_server)
            if silent > self.heartbeat_ms * self.config['missed_heartbeats']:
                log('server silent for', silent, 'ms')
                await conn.close(4000)
                # Unblock recv() by closing the stream under it.
                return
            await self.send({'type': 'ping', 't': ticks_ms()})

    async def sensor_loop(self):
        due = {}
        while True:
            now = ticks_ms()
            for s in self.config['sensors']:
                interval = s.get('interval_ms', 0)
                if not interval:
                    continue
                if s['name'] not in due or ticks_diff(now, due[s['name']]) >= 0:
                    due[s['name']] = ticks_add(now, interval)
                    try:
                        value = self.backend.read_sensor(s['name'])
                        await self.send({'type': 'reading', 'sensor': s['name'], 'value': value})
                    except Exception as e:
                        log('sensor', s['name'], 'failed', e)
            await sleep_ms(50)

    async def input_loop(self):
        hw = None
        if IS_MICROPYTHON and self.config['hw_watchdog_ms']:
            import machine
            hw = machine.WDT(timeout=self.config['hw_watchdog_ms'])
        while self.running:
            if hw is not None:
                hw.feed()
            while self.control:
                self.run_control(self.control.pop(0))
            for edge in self.poll_inputs(ticks_ms()):
                try:
                    await self.send(edge)
                except Exception as e:
                    log('edge not sent', e)
            await sleep_ms(self.config['poll_ms'])

    async def watchdog_loop(self):
        limit = self.config['watchdog_s'] * 1000
        if not limit:
            return
        while self.running:
            await sleep_ms(min(1000, limit))
            if self.conn is None and ticks_diff(ticks_ms(), self.last_server) > limit:
                log('watchdog: no server for', limit, 'ms')
                if IS_MICROPYTHON:
                    import machine
                    machine.reset()
                # On a Pi, exit and let systemd (Restart=always) start afresh.
                sys.exit(3)

    def ensure_wifi(self):
        wifi = self.config.get('wifi')
        if not wifi or not IS_MICROPYTHON:
            return True
        import network
        wlan = network.WLAN(network.STA_IF)
        wlan.active(True)
        if not wlan.isconnected():
            log('wifi connecting', wifi['ssid'])
            wlan.connect(wifi['ssid'], wifi.get('password', ''))
        return wlan.isconnected()

    async def connect_loop(self):
        backoff = self.config['backoff_min_ms']
        while self.running:
            reason = 'unknown'
            try:
                waited = 0
                while not self.ensure_wifi() and waited < self.config['connect_timeout_ms']:
                    await sleep_ms(250)
                    waited += 250
                conn = await asyncio.wait_for(
                    ws_connect(self.config['url'], self.config['token'], self.config['max_frame'], self.opener),
                    self.config['connect_timeout_ms'] / 1000)
                log('connected', self.config['url'])
                self.connected_once = True
                backoff = self.config['backoff_min_ms']
                reason = await self.session(conn)
            except HandshakeError as e:
                reason = str(e)
                log('refused', reason)
            except Exception as e:
                reason = '{} {}'.format(type(e).__name__, e)
            if not self.running:
                break
            log('disconnected', reason, 'retry in', backoff, 'ms')
            await sleep_ms(jitter(backoff))
            backoff = min(backoff * 2, self.config['backoff_max_ms'])

    async def run(self):
        tasks = [asyncio.create_task(self.input_loop()), asyncio.create_task(self.watchdog_loop())]
        try:
            await self.connect_loop()
        finally:
            for t in tasks:
                t.cancel()


# ---------------------------------------------------------------- start-up


def start_stdin_reader(agent):
    # CPython only: a thread feeds stdin lines to the (single-threaded) loop.
    try:
        import threading
    except ImportError:
        return

    def pump():
        for line in sys.stdin:
            agent.control.append(line)
        agent.control.append('quit')

    t = threading.Thread(target=pump)
    t.daemon = True
    t.start()


def parse_argv(argv):
    """--key value pairs (dashes become underscores); --config file.json is merged first."""
    config = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith('--'):
            raise ValueError('unexpected argument ' + arg)
        name = arg[2:].replace('-', '_')
        if name == 'stdin_control':
            config[name] = True
            i += 1
            continue
        if i + 1 >= len(argv):
            raise ValueError('missing value for ' + arg)
        value = argv[i + 1]
        if name == 'config':
            with open(value) as f:
                loaded = json.load(f)
            loaded.update(config)
            config = loaded
        elif name in DEFAULTS and isinstance(DEFAULTS[name], int) and not isinstance(DEFAULTS[name], bool):
            config[name] = int(value)
        else:
            config[name] = value
        i += 2
    return config


def main(config=None):
    if config is None:
        config = parse_argv(sys.argv[1:])
    agent = Agent(config)
    log('starting', agent.config['id'], 'backend', agent.backend.name, 'url', agent.config['url'])
    if agent.config['stdin_control']:
        start_stdin_reader(agent)
    asyncio.run(agent.run())


if __name__ == '__main__':
    main()
