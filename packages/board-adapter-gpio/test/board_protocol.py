"""The board protocol's shared examples (protocol/board-frames.json), run
against the two Python boards that speak it:

    python3 test/board_protocol.py agent     the agent's AgentCore (sim backend), frame by frame
    python3 test/board_protocol.py helper    the GPIO helper as a process over stdin/stdout;
                                             run with the emulated chip's environment
                                             (test/board-protocol.test.ts does both)

Each exchange's answer must contain the expected one (a subset: messages may
differ, codes may not). Prints one line per exchange and "board-protocol ok N".
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
with open(os.path.join(ROOT, "protocol", "board-frames.json")) as f:
    SPEC = json.load(f)


def contains(actual, expected):
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            contains(a, e) for a, e in zip(actual, expected))
    return actual == expected and type(actual) == type(expected)


def check(name, answer, expected):
    if not contains(answer, expected):
        raise AssertionError("%s: expected %s, got %s" % (name, json.dumps(expected), json.dumps(answer)))
    print("ok  %s" % name)


def run_agent():
    sys.path.insert(0, os.path.join(ROOT, "agent"))
    from bc_core import AgentCore

    core = AgentCore({"backend": "sim", "pins": SPEC["pins"]})
    for case in SPEC["exchanges"]:
        out = core.handle(dict(case["request"]))
        if len(out) != 1:
            raise AssertionError("%s: expected one frame, got %s" % (case["name"], json.dumps(out)))
        check(case["name"], out[0], case["answer"])


def run_helper():
    helper = os.path.join(ROOT, "gpio-helper", "boardcast_gpio_helper.py")
    proc = subprocess.Popen([sys.executable, helper], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def send(frame):
        proc.stdin.write((json.dumps(frame) + "\n").encode())
        proc.stdin.flush()

    def receive():
        while True:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError("the helper exited")
            frame = json.loads(line)
            if frame.get("type") in ("result", "error"):
                return frame

    try:
        send({"type": "open", "id": 0, "pins": [p["pin"] for p in SPEC["pins"]], "consumer": "board-protocol"})
        opened = receive()
        if not opened.get("ok"):
            raise AssertionError("open failed: %s" % json.dumps(opened))
        for case in SPEC["exchanges"]:
            send(case["request"])
            check(case["name"], receive(), case["answer"])
        send({"type": "close", "id": 999})
        receive()
    finally:
        proc.stdin.close()
        proc.wait()


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    if which == "agent":
        run_agent()
    elif which == "helper":
        run_helper()
    else:
        sys.exit("usage: board_protocol.py agent|helper")
    print("board-protocol ok %d" % len(SPEC["exchanges"]))
