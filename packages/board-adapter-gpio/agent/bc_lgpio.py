# boardcast agent: the Raspberry Pi backend through lgpio (CPython).

from bc_config import ConfigError


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
