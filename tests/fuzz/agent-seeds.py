#!/usr/bin/env python3
"""Seeds for tests/fuzz/fuzz-agent.c: guest -> host streams of the agent protocol
(docs/agent-protocol.md) answering what the target's host queued (hello id 1, setup 2,
exec main 3 with streams 1-3, exec e1 4 with stream 4, archive_get 5 on stream 5,
archive_put 6 on stream 6, archive_stat 7, signal 8, resize 9).
Usage: agent-seeds.py DIR"""
import json
import os
import struct
import sys

CONTROL, DATA, EOF = 1, 2, 3
MARK = b"\xff\xfeACT"


def frame(stream, ftype, payload=b""):
    return struct.pack("<IIBBH", len(payload), stream, ftype, 0, 0) + payload


def ctl(obj):
    return frame(0, CONTROL, json.dumps(obj, separators=(",", ":")).encode())


def reply(i, **kw):
    return ctl(dict({"id": i, "ok": True}, **kw))


def fail(i, msg, code=0, errno=None):
    o = {"id": i, "ok": False, "error": msg, "code": code}
    if errno:
        o["errno"] = errno
    return ctl(o)


def exit_(proc, status, error=None):
    o = {"event": "exit", "process": proc, "status": status}
    if error:
        o["error"] = error
    return ctl(o)


HELLO = reply(1, version=1, agent="vminitd/0.1.0")
STAT = {"name": "passwd", "size": 42, "mode": 420, "mtime": "2024-01-01T00:00:00Z", "link_target": ""}

seeds = {
    "hello": HELLO,
    "boot": HELLO + reply(2) + reply(3, pid=7),
    "main-io": HELLO + reply(2) + reply(3, pid=7) + frame(2, DATA, b"hello\n")
    + frame(3, DATA, b"oops\n") + frame(2, EOF) + frame(3, EOF) + exit_("main", 0),
    "tty-exec": HELLO + reply(4, pid=9) + frame(4, DATA, b"\x1b[1mtty\r\n") + frame(4, EOF)
    + exit_("e1", 130),
    "archive-get": HELLO + reply(5, stat=STAT) + frame(5, DATA, b"\0" * 1024) + frame(5, EOF)
    + exit_("cp", 0),
    "archive-put": HELLO + reply(6) + exit_("put", 1, "tar: short read"),
    "stat": HELLO + reply(7, stat=dict(STAT, mode=2147484141, link_target="/etc/x")),
    "errors": HELLO + fail(2, "mount failed", 0, 2) + fail(3, "exec: not found", 127, 2)
    + fail(5, "no such file", 0, 2) + fail(7, "permission denied", 0, 13) + reply(8) + reply(9),
    "split": HELLO[:5] + MARK + b"\x00" + HELLO[5:] + MARK + b"\x01" + reply(10, pid=11)
    + MARK + b"\x07" + frame(8, DATA, b"x") + MARK + b"\x09" + exit_("main", 0),
    "actions": HELLO + MARK + b"\x02" + MARK + b"\x03" + MARK + b"\x04" + reply(10, stat=STAT)
    + frame(7, DATA, b"tar") + frame(7, EOF) + exit_("g0", 0) + reply(11) + reply(12, stat=STAT)
    + MARK + b"\x0a" + MARK + b"\x08" + MARK + b"\x05" + MARK + b"\x06" + MARK + b"\x0b",
    "bad-order": reply(3) + HELLO,
    "unknown": HELLO + exit_("nobody", 0) + frame(99, DATA, b"?"),
    "big": HELLO + reply(3, pid=1) + frame(2, DATA, b"A" * 4096) + frame(3, DATA, b"B" * 100),
}

os.makedirs(sys.argv[1], exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(sys.argv[1], "seed-" + name), "wb") as f:
        f.write(data)
