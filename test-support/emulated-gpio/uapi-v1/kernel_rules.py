"""The uAPI v1 emulation's kernel rules, checked through Debian's real
python3-libgpiod 1.6.3 (run with /usr/bin/python3, LD_PRELOAD and
GPIO_EMU_DIR set; test/uapi-v1-emulation.test.ts does). Prints "rules ok".

argv[1] is "holder" for the second process of the cross-process checks:
it requests GPIO5 as an output driving 1 and then waits to be killed.
"""

import errno
import os
import select
import sys
import time

import gpiod

RP1 = "/dev/gpiochip4"


def expect_errno(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except OSError as e:
        assert e.errno == code, "expected errno %d, got %r" % (code, e)
        return
    raise AssertionError("expected errno %d, nothing raised" % code)


if len(sys.argv) > 1 and sys.argv[1] == "holder":
    chip = gpiod.Chip(RP1, gpiod.Chip.OPEN_BY_PATH)
    line = chip.get_line(5)
    line.request(consumer="holder", type=gpiod.LINE_REQ_DIR_OUT, default_val=1)
    sys.stdout.write("held\n")
    sys.stdout.flush()
    time.sleep(3600)
    sys.exit(0)

# Discovery through libgpiod's own scandir + is_gpiochip_cdev (stat, lstat, access, the sysfs dev attribute).
names = [c.name() for c in gpiod.ChipIter()]
assert "gpiochip4" in names, names
chip = gpiod.Chip(RP1, gpiod.Chip.OPEN_BY_PATH)
assert chip.label() == "pinctrl-rp1" and chip.num_lines() == 54

# A line held by another process (the "holder" run of this script) is busy, with its consumer.
line5 = chip.get_line(5)
assert line5.is_used() and line5.consumer() == "holder", (line5.is_used(), line5.consumer())
expect_errno(errno.EBUSY, line5.request, consumer="me", type=gpiod.LINE_REQ_DIR_OUT)

# Writing an input is EPERM; an event request takes no output flags and refuses set_value.
line6 = chip.get_line(6)
line6.request(consumer="me", type=gpiod.LINE_REQ_DIR_IN)
expect_errno(errno.EPERM, line6.set_value, 1)
line6.release()
line7 = chip.get_line(7)
line7.request(consumer="me", type=gpiod.LINE_REQ_EV_BOTH_EDGES, flags=gpiod.LINE_REQ_FLAG_BIAS_PULL_UP)
assert line7.get_value() == 1
expect_errno(errno.EINVAL, line7.set_value, 0)  # lineevent_ioctl takes GET_LINE_VALUES only

# is_used() is cached until update(), as the real library caches the line info.
line8 = chip.get_line(8)
assert not line8.is_used()
other = gpiod.Chip(RP1, gpiod.Chip.OPEN_BY_PATH)
other.get_line(8).request(consumer="other", type=gpiod.LINE_REQ_DIR_IN)
assert not line8.is_used()
line8.update()
assert line8.is_used() and line8.consumer() == "other"
# chip.close() releases the lines requested through it (libgpiod does, not the kernel).
other.close()
line8.update()
assert not line8.is_used()

# set_config turns a values request into an output in place (GPIOHANDLE_SET_CONFIG_IOCTL).
line9 = chip.get_line(9)
line9.request(consumer="me", type=gpiod.LINE_REQ_DIR_IN)
line9.set_config(gpiod.LINE_REQ_DIR_OUT, 0, 1)
assert line9.get_value() == 1 and line9.direction() == gpiod.Line.DIRECTION_OUTPUT

# A line a driver holds is used, with the driver's label (set up by the test: GPIO10 "spi0 MOSI").
line10 = chip.get_line(10)
assert line10.is_used() and line10.consumer() == "spi0 MOSI"
expect_errno(errno.EBUSY, line10.request, consumer="me", type=gpiod.LINE_REQ_DIR_IN)

# The event fd is readable exactly while events wait; reads return whole records.
fd = line7.event_get_fd()
assert select.select([fd], [], [], 0)[0] == []
sys.stdout.write("ready\n")
sys.stdout.flush()
sys.stdin.readline()  # the test drives 41 edges on GPIO7 now (from 1: 0,1,0,...,0)
assert select.select([fd], [], [], 5)[0] == [fd]
events = line7.event_read_multiple()
# 16 kept, the newest dropped: the last one read is the 16th edge (rising), while the line is low.
assert len(events) == 16, len(events)
assert events[0].type == gpiod.LineEvent.FALLING_EDGE and events[-1].type == gpiod.LineEvent.RISING_EDGE
stamps = [e.sec * 1000000000 + e.nsec for e in events]
assert stamps == sorted(stamps) and abs(time.monotonic_ns() - stamps[-1]) < 60 * 1000000000, "CLOCK_MONOTONIC"
assert line7.get_value() == 0
assert select.select([fd], [], [], 0)[0] == []
# A non-blocking read of an empty queue is EAGAIN.
import fcntl  # noqa: E402

fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
expect_errno(errno.EAGAIN, os.read, fd, 16)
sys.stdout.write("rules ok\n")
sys.stdout.flush()
