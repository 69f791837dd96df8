# boardcast agent: the Agent: input, sensor and link loops, Wi-Fi, and the
# supervisor that feeds the hardware watchdog only while every loop beats.

import sys

from bc_core import AgentCore
from bc_link import READING
from bc_pins import SimBackend
from bc_util import MPY, asyncio, log, sleep_ms, ticks_add, ticks_diff, ticks_ms, ticks_us

# machine.WDT timeout limits (ms) where a port has one; larger values raise.
WDT_MAX = {'rp2': 8388, 'esp8266': 5000, 'samd': 16000, 'stm32': 32000, 'mimxrt': 128000}


class Agent(AgentCore):
    """The board side of boardcast-board.v1. config is a dict (see README);
    backend, opener, wdt and reboot may be injected (tests, other hardware)."""

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
            # One sim control line per poll: two lines queued back to back (a
            # starved process reads both at once) would otherwise be applied
            # microseconds apart, a pulse the debounce rightly drops; the
            # outside world they stand for held each level for a while.
            if self.control:
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
                beat = self.beats.get(name, now)
                since = self.restarted.get(name)
                if since is not None and ticks_diff(beat, since) > 0 and ticks_diff(now, since) > 3 * limits[name]:
                    del self.restarted[name]  # recovered (and ticks wrap: do not keep old stamps)
                    since = None
                if since is not None and ticks_diff(beat, since) <= 0:
                    # Restarted and not yet beaten on its own: no feed until it does.
                    healthy = False
                age = ticks_diff(now, beat)
                if age <= limits[name]:
                    continue
                healthy = False
                if since is not None and ticks_diff(now, since) < 3 * limits[name]:
                    self.reboot('{} stuck again after a restart'.format(name))
                    return
                log('supervisor:', name, 'made no progress for', age, 'ms; restarting it')
                self.tasks[name].cancel()
                self.start(name)
                self.restarted[name] = self.beats[name]
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
            self.release_outputs()
