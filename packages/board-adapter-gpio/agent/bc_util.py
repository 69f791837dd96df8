# boardcast agent: clocks, logging, randomness. Shared by every other module.
# Written in the subset MicroPython and CPython 3.9+ share (see README).

import sys
import time

try:
    import asyncio
except ImportError:  # MicroPython before 1.20
    import uasyncio as asyncio

MPY = sys.implementation.name == 'micropython'
VERSION = '0.2.0'

# Monotonic clocks only: wall-clock steps (NTP on a Pi without RTC) must not
# move a deadline or a liveness check. MicroPython ticks wrap (2^30 on most
# ports), so every comparison goes through ticks_diff.
if hasattr(time, 'ticks_ms'):
    ticks_ms = time.ticks_ms
    ticks_us = time.ticks_us
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
else:
    def ticks_ms():
        return time.monotonic_ns() // 1000000

    def ticks_us():
        return time.monotonic_ns() // 1000

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b


def sleep_ms(ms):
    if hasattr(asyncio, 'sleep_ms'):
        return asyncio.sleep_ms(ms)
    return asyncio.sleep(ms / 1000)


def log(*args):
    print('[boardcast-agent]', *args)
    flush = getattr(sys.stdout, 'flush', None)
    if flush:
        try:
            flush()
        except Exception:
            pass


try:
    import os
    _urandom = os.urandom
except (ImportError, AttributeError):
    _urandom = None

try:
    import random
except ImportError:
    random = None


def random_bytes(n):
    if _urandom is not None:
        try:
            return _urandom(n)
        except Exception:
            pass
    if random is not None:
        return bytes([random.getrandbits(8) for _ in range(n)])
    t = ticks_us()
    return bytes([(t >> (i % 4 * 8) ^ (i * 73)) & 0xFF for i in range(n)])


def jittered(ms, cap):
    """ms plus up to 25 % random, at most cap: spreads boards that failed together."""
    extra = 0
    if ms >= 4:
        b = random_bytes(2)
        extra = (b[0] << 8 | b[1]) % (ms // 4 + 1)
    return min(cap, ms + extra)
