# boardcast agent: pin backends (simulated, machine.Pin, lgpio), the IRQ edge
# ring and the debouncer. Levels crossing this module's API are logical:
# for an active_low pin, 1 means active (physical 0).

import sys

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


class MachineBackend:
    """MicroPython boards through machine.Pin / machine.ADC."""

    name = 'machine'

    def __init__(self, cfg):
        import machine
        self.m = machine
        self.pins = {}
        self.adcs = {}

    def setup(self, pin, mode, initial=0):
        m = self.m
        key = str(pin)
        self.adcs.pop(key, None)
        old = self.pins.pop(key, None)
        if old is not None and hasattr(old, 'irq'):
            old.irq(handler=None)
        if mode == 'output':
            # value= sets the level before the pin drives: no glitch at boot.
            self.pins[key] = m.Pin(pin, m.Pin.OUT, value=initial)
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

    def watch(self, pin, idx, ring):
        p = self.pins[str(pin)]
        if not hasattr(p, 'irq'):
            return False
        from time import ticks_us as tu
        put = ring.put

        def handler(q):
            put(idx, q.value(), tu())

        trigger = self.m.Pin.IRQ_RISING | self.m.Pin.IRQ_FALLING
        try:
            # Hard IRQ: the level and time are taken at the interrupt, even
            # while a blocking DNS lookup or TLS handshake holds the VM.
            p.irq(handler=handler, trigger=trigger, hard=True)
        except (TypeError, ValueError):
            p.irq(handler=handler, trigger=trigger)
        return True

    def read(self, pin):
        return self.pins[str(pin)].value()

    def write(self, pin, value):
        p = self.pins[str(pin)]
        p.value(value)
        return p.value()

    def read_analog(self, pin):
        adc = self.adcs[str(pin)]
        return adc.read_u16() if hasattr(adc, 'read_u16') else adc.read()

    def read_sensor(self, spec):
        kind = spec['kind']
        if kind == 'adc':
            key = str(spec['pin'])
            if key not in self.adcs:
                self.setup(spec['pin'], 'analog')
            return self.read_analog(spec['pin']) * spec.get('scale', 1) + spec.get('offset', 0)
        if kind == 'mcu_temperature':
            if sys.platform == 'rp2':
                # RP2040/RP2350 internal sensor on ADC 4 (datasheet 4.9.5).
                volts = self.m.ADC(4).read_u16() * 3.3 / 65535
                return round(27 - (volts - 0.706) / 0.001721, 2)
            import esp32
            if hasattr(esp32, 'mcu_temperature'):  # ESP32-S2/S3/C3/C6
                return esp32.mcu_temperature()
            return round((esp32.raw_temperature() - 32) / 1.8, 2)  # original ESP32, Fahrenheit
        raise ConfigError('sensors.kind', 'a kind this board has', kind)


class LgpioBackend:
    """Raspberry Pi (all models incl. Pi 5) through lgpio and /dev/gpiochipN; inputs are polled."""

    name = 'lgpio'

    def __init__(self, cfg):
        import lgpio
        self.lg = lgpio
        self.handle = self._open_chip(cfg['chip'], cfg['pins'])
        self.claimed = set()

    def _open_chip(self, chip, pins):
        lg = self.lg
        if chip is not None:
            return lg.gpiochip_open(chip)
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

    def setup(self, pin, mode, initial=0):
        lg = self.lg
        if pin in self.claimed:
            lg.gpio_free(self.handle, pin)
        if mode == 'output':
            lg.gpio_claim_output(self.handle, pin, initial)
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

    def watch(self, pin, idx, ring):
        return False

    def read(self, pin):
        return self.lg.gpio_read(self.handle, pin)

    def write(self, pin, value):
        self.lg.gpio_write(self.handle, pin, value)
        return self.lg.gpio_read(self.handle, pin)

    def read_analog(self, pin):
        raise ValueError('the Pi has no analog inputs')

    def read_sensor(self, spec):
        if spec['kind'] == 'linux_thermal':
            with open(spec.get('path', '/sys/class/thermal/thermal_zone0/temp')) as f:
                return int(f.read().strip()) / 1000
        raise ConfigError('sensors.kind', 'linux_thermal on a Pi', spec['kind'])


def make_backend(cfg):
    """The backend for cfg['backend']; 'auto' is machine on MicroPython and
    lgpio on CPython, with a ConfigError naming what to install if it is missing."""
    kind = cfg['backend']
    if kind == 'sim':
        return SimBackend(cfg)
    if kind == 'machine' or (kind == 'auto' and MPY):
        return MachineBackend(cfg)
    try:
        import lgpio  # noqa: F401
    except ImportError:
        raise ConfigError('backend', '"sim" on this computer: lgpio is not installed (on a Raspberry Pi: '
                          'sudo apt install python3-lgpio, or pip install lgpio)', kind)
    return LgpioBackend(cfg)
