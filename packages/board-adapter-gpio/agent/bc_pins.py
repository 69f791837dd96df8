# boardcast agent: the IRQ edge ring, the debouncer, the simulated backend
# and backend selection (machine.Pin in bc_machine, lgpio in bc_lgpio).
# Levels crossing a backend are physical; bc_core applies active_low.

from bc_config import ConfigError
from bc_util import MPY, ticks_diff, ticks_ms, ticks_us

try:
    from array import array
except ImportError:
    array = None


class Ring:
    """Preallocated edge ring written by Pin.irq handlers: put() allocates
    nothing (safe in a hard IRQ). One slot stays empty to tell full from
    empty; a full ring counts `lost` and the next poll resyncs levels."""

    def __init__(self, n):
        self.n = n + 1
        # ticks_us fits 'i' on MicroPython (wraps at 2^30); CPython's does not.
        self.t = array('i', [0] * self.n) if MPY and array else [0] * self.n
        self.v = bytearray(self.n)
        self.p = bytearray(self.n)
        self.head = 0
        self.tail = 0
        self.lost = 0

    def put(self, idx, level, t):
        h = self.head
        nxt = h + 1
        if nxt == self.n:
            nxt = 0
        if nxt == self.tail:
            self.lost += 1
            return
        self.p[h] = idx
        self.v[h] = level
        self.t[h] = t
        self.head = nxt

    def drain(self, fn):
        while self.tail != self.head:
            i = self.tail
            fn(self.p[i], self.v[i], self.t[i])
            self.tail = i + 1 if i + 1 < self.n else 0


class Input:
    """Device-side debounce on ticks_us: a level counts once it held for
    debounce_ms. Transitions from the ring arrive with their own times, so a
    press shorter than the loop's stall is still seen."""

    def __init__(self, pin, level, debounce_ms):
        self.pin = pin
        self.stable = level
        self.candidate = level
        self.since = ticks_us()
        self.debounce_us = debounce_ms * 1000
        self.edge = None  # None: not watched; else 'both', 'rising', 'falling'

    def step(self, raw, t, emit):
        """Feed a level seen at ticks_us t; emit(input, level, t_us) per debounced change."""
        if self.candidate != self.stable and ticks_diff(t, self.since) >= self.debounce_us:
            self.stable = self.candidate
            emit(self, self.stable, self.since)
        if raw != self.candidate:
            self.candidate = raw
            self.since = t
            if self.candidate != self.stable and not self.debounce_us:
                self.stable = raw
                emit(self, raw, t)


class SimBackend:
    """Pins and sensors in memory, for a PC and for tests. press()/set() go
    through the same ring as a real Pin.irq when irq is on."""

    name = 'sim'

    def __init__(self, cfg):
        self.levels = {}
        self.analog = {}
        self.irqs = {}
        self.overrides = {}
        self.sensors = {}
        self.started = ticks_ms()
        self.irq = cfg['irq']
        for s in cfg['sensors']:
            self.sensors[s['name']] = s

    def setup(self, pin, mode, initial=0):
        key = str(pin)
        if mode == 'output':
            self.levels[key] = initial
        elif mode == 'analog':
            self.analog.setdefault(key, 0)
        elif key not in self.levels:
            self.levels[key] = 1 if mode == 'input_pullup' else 0
        self.irqs.pop(key, None)

    def watch(self, pin, idx, ring):
        if not self.irq:
            return False
        self.irqs[str(pin)] = (idx, ring)
        return True

    def read(self, pin):
        return self.levels.get(str(pin), 0)

    def write(self, pin, value):
        self.levels[str(pin)] = value
        return value

    def read_analog(self, pin):
        return self.analog.get(str(pin), 0)

    def read_sensor(self, spec):
        name = spec['name']
        if name in self.overrides:
            return self.overrides[name]
        low = spec.get('min', 0)
        high = spec.get('max', 100)
        period = spec.get('period_ms', 10000) or 1
        phase = (ticks_diff(ticks_ms(), self.started) % period) / period
        if spec.get('wave') == 'square':
            return high if phase < 0.5 else low
        import math
        return round(low + (high - low) * (0.5 + 0.5 * math.sin(2 * math.pi * phase)), 3)

    def set(self, pin, value):
        """Drive an input (or an analog value) as the outside world would."""
        key = str(pin)
        if key in self.analog:
            self.analog[key] = value
            return
        value = 1 if value else 0
        if self.levels.get(key) == value:
            return
        self.levels[key] = value
        w = self.irqs.get(key)
        if w:
            w[1].put(w[0], value, ticks_us())


def make_backend(cfg):
    """The backend for cfg['backend']; 'auto' is machine on MicroPython and
    lgpio on CPython, with a ConfigError naming what to install if it is missing."""
    kind = cfg['backend']
    if kind == 'sim':
        return SimBackend(cfg)
    if kind == 'machine' or (kind == 'auto' and MPY):
        from bc_machine import MachineBackend
        return MachineBackend(cfg)
    try:
        import lgpio  # noqa: F401
    except ImportError:
        raise ConfigError('backend', '"sim" on this computer: lgpio is not installed (on a Raspberry Pi: '
                          'sudo apt install python3-lgpio, or pip install lgpio)', kind)
    from bc_lgpio import LgpioBackend
    return LgpioBackend(cfg)
