# boardcast agent: the machine.Pin / machine.ADC backend for MicroPython
# boards, with inputs captured by Pin.irq into the edge ring (bc_pins.Ring).

import sys

from bc_config import ConfigError


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
