#!/usr/bin/env python3
"""Drive a booted vminitd over its agent port (a QEMU chardev unix socket) and
check its behaviour; prints one line per check: `ok NAME` or `fail NAME: why`.
Independent of src/proto on purpose: a second implementation of the framing
catches mistakes both sides of one codec would share.
Usage: vminitd_check.py SOCKET"""
import json
import socket
import struct
import sys
import time

CONTROL, DATA, EOF = 1, 2, 3


class Agent:
    def __init__(self, path, timeout=60):
        deadline = time.time() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""
        self.next_id = 1
        self.frames = []  # (stream, type, payload) read but not consumed yet

    def send_frame(self, stream, ftype, payload=b""):
        self.s.sendall(struct.pack("<IIBBH", len(payload), stream, ftype, 0, 0) + payload)

    def read_frame(self, timeout):
        self.s.settimeout(timeout)
        while True:
            if len(self.buf) >= 12:
                length, stream, ftype, flags, res = struct.unpack("<IIBBH", self.buf[:12])
                assert flags == 0 and res == 0, "reserved bits from the guest"
                assert ftype in (CONTROL, DATA, EOF), "unknown frame type %d" % ftype
                assert (ftype == CONTROL) == (stream == 0), "frame type/stream mismatch"
                if len(self.buf) >= 12 + length:
                    payload = self.buf[12:12 + length]
                    self.buf = self.buf[12 + length:]
                    return stream, ftype, payload
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("agent connection closed")
            self.buf += chunk

    def request(self, op, **fields):
        rid = self.next_id
        self.next_id += 1
        msg = dict(op=op, id=rid, **fields)
        self.send_frame(0, CONTROL, json.dumps(msg).encode())
        return rid

    def send_raw_control(self, text):
        self.send_frame(0, CONTROL, text.encode())

    def wait(self, pred, timeout=60):
        """Read frames into self.frames until pred(frame) matches; return it."""
        deadline = time.time() + timeout
        while True:
            for i, f in enumerate(self.frames):
                if pred(f):
                    return self.frames.pop(i)
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("no matching frame")
            self.frames.append(self.read_frame(left))

    def reply(self, rid, timeout=60):
        f = self.wait(lambda f: f[1] == CONTROL and json.loads(f[2]).get("id") == rid, timeout)
        return json.loads(f[2])

    def run(self, name, args, timeout=60, stdin=None, **kw):
        """exec a process, collect its frames in arrival order until its exit event."""
        sid = self.next_id * 10  # stream ids unique per exec
        kw.setdefault("stdout", sid + 1)
        kw.setdefault("stderr", sid + 2 if not kw.get("terminal") else 0)
        if stdin is not None:
            kw["stdin"] = sid + 3
        rid = self.request("exec", process=name, args=args, **kw)
        rep = self.reply(rid, timeout)
        if not rep["ok"]:
            return rep, None
        if stdin is not None:
            for off in range(0, len(stdin), 65536):  # frames carry at most 128 KiB
                self.send_frame(sid + 3, DATA, stdin[off:off + 65536])
            self.send_frame(sid + 3, EOF)
        return rep, self.collect(name, kw["stdout"], kw["stderr"], timeout)

    def collect(self, name, out_s, err_s, timeout=60):
        res = {"out": b"", "err": b"", "order": []}
        streams = {out_s: "out", err_s: "err"}
        while True:
            f = self.wait(lambda f: (f[1] == CONTROL and json.loads(f[2]).get("process") == name)
                          or (f[1] != CONTROL and f[0] in streams and f[0] != 0), timeout)
            if f[1] == CONTROL:
                res["status"] = json.loads(f[2])["status"]
                res["order"].append("exit")
                return res
            which = streams[f[0]]
            if f[1] == DATA:
                res[which] += f[2]
            else:
                res["order"].append("eof-" + which)


results = []


def check(name, cond, why=""):
    results.append(name)
    print(("ok %s" % name) if cond else ("fail %s: %s" % (name, why)), flush=True)


def main():
    a = Agent(sys.argv[1])
    t0 = time.time()

    rid = a.request("exec", process="early", args=["true"])
    rep = a.reply(rid)
    check("exec before hello is refused", not rep["ok"] and "hello" in rep["error"], rep)
    rid = a.request("hello", version=1)
    rep = a.reply(rid)
    check("hello answers version 1 and the agent name",
          rep == {"id": rid, "ok": True, "version": 1, "agent": "vminitd/0.1"}, rep)
    print("# hello after %.2fs" % (time.time() - t0))
    rid = a.request("hello", version=2)
    rep = a.reply(rid)
    check("hello with an unknown version fails", not rep["ok"] and "version 2" in rep["error"], rep)

    a.send_raw_control('{"op":"exec","id":77,"process":"x","args":"notalist"}')
    rep = a.reply(77)
    check("a mistyped request gets an error reply with its id",
          not rep["ok"] and "`args`" in rep["error"], rep)
    a.send_raw_control('{"op":"launch","id":78}')
    rep = a.reply(78)
    check("an unknown op gets an error reply", not rep["ok"] and "unknown op" in rep["error"], rep)

    rid = a.request("setup", hostname="testbox", root_lower="serial:image", root_upper="serial:rw",
                    mounts=[{"source": "tmpfs", "target": "/scratch", "fstype": "tmpfs",
                             "options": "size=8m,nosuid"}])
    rep = a.reply(rid, 120)
    check("setup mounts the root", rep.get("ok"), rep)
    rid = a.request("setup", root_lower="serial:image")
    check("a second setup is refused", not a.reply(rid)["ok"])

    rep, r = a.run("e1", ["echo", "hello"])
    check("echo prints hello", r and r["out"] == b"hello\n" and r["status"] == 0, (rep, r))
    check("pid in the exec reply", isinstance(rep.get("pid"), int) and rep["pid"] > 1, rep)
    check("exit event comes after the output EOFs",
          r and r["order"][-1] == "exit" and set(r["order"][:-1]) == {"eof-out", "eof-err"}, r)

    _, r = a.run("e2", ["sh", "-c", "echo out; echo err >&2; exit 7"])
    check("stdout and stderr stay apart",
          r and r["out"] == b"out\n" and r["err"] == b"err\n", r)
    check("exit 7 gives 7", r and r["status"] == 7, r)
    _, r = a.run("e3", ["sh", "-c", "kill -9 $$"])
    check("kill -9 gives 137", r and r["status"] == 137, r)

    rep, _ = a.run("e4", ["nosuch"])
    check("missing executable: 127 and docker's message",
          not rep["ok"] and rep["code"] == 127 and
          rep["error"] == 'exec: "nosuch": executable file not found in $PATH', rep)
    rep, _ = a.run("e5", ["/etc/passwd"])
    check("non-executable file: 126 naming it",
          not rep["ok"] and rep["code"] == 126 and "/etc/passwd" in rep["error"], rep)

    _, r = a.run("e6", ["cat"], stdin=b"abc\n")
    check("stdin reaches cat", r and r["out"] == b"abc\n" and r["status"] == 0, r)
    big = bytes(range(256)) * 2048  # 512 KiB through stdin and back
    _, r = a.run("e7", ["cat"], stdin=big, timeout=180)
    check("512 KiB round trip through cat", r and r["out"] == big, r and len(r["out"]))

    _, r = a.run("e8", ["sh", "-c", "tty; stty size"], terminal=True, rows=30, cols=100)
    out = r["out"].decode(errors="replace") if r else ""
    check("tty gives a pts path", "/dev/pts/" in out, out)
    check("initial window size", "30 100" in out, out)

    rid = a.request("exec", process="t2", terminal=True, rows=10, cols=10, stdout=901,
                    args=["sh", "-c", 'trap "stty size; exit 0" WINCH; echo ready; '
                          'while true; do sleep 1; done'])
    check("exec with a terminal", a.reply(rid)["ok"])
    a.wait(lambda f: f[0] == 901 and b"ready" in f[2], 60)
    rid = a.request("resize", process="t2", rows=33, cols=77)
    check("resize is accepted", a.reply(rid)["ok"])
    r = a.collect("t2", 901, 0)
    check("resize reaches the process", b"33 77" in r["out"], r)

    _, r = a.run("u1", ["id"], user="app")
    out = r["out"].decode() if r else ""
    check("user by name with supplementary groups",
          "uid=1000(app)" in out and "gid=1000(app)" in out and "10(wheel)" in out, out)
    _, r = a.run("u2", ["id"], user="1000:10")
    out = r["out"].decode() if r else ""
    check("uid:gid", "uid=1000" in out and "gid=10(wheel)" in out, out)
    rep, _ = a.run("u3", ["id"], user="nobody-here")
    check("unknown user is an error", not rep["ok"] and "nobody-here" in rep["error"], rep)
    _, r = a.run("u4", ["sh", "-c", "echo $HOME"], user="app")
    check("HOME from passwd", r and r["out"] == b"/home/app\n", r)

    _, r = a.run("h1", ["sh", "-c", "hostname; cat /etc/hostname; grep testbox /etc/hosts"])
    out = r["out"].decode() if r else ""
    check("hostname and /etc/hostname", out.startswith("testbox\ntestbox\n"), out)
    _, r = a.run("c1", ["pwd"], cwd="/new/dir")
    check("cwd is created", r and r["out"] == b"/new/dir\n", r)
    _, r = a.run("w1", ["sh", "-c", "echo persisted > /root/f"])
    _, r = a.run("w2", ["cat", "/root/f"])
    check("what one process writes another sees", r and r["out"] == b"persisted\n", r)
    _, r = a.run("m1", ["cat", "/proc/mounts"])
    out = r["out"].decode() if r else ""
    check("overlay root and the tmpfs mount",
          "overlay / overlay" in out and "/scratch tmpfs" in out and "/dev/pts devpts" in out,
          out)
    _, r = a.run("r1", ["sh", "-c", "ulimit -n"],
                 rlimits=[{"resource": 7, "soft": 123, "hard": 456}])
    check("rlimits apply", r and r["out"] == b"123\n", r)

    rid = a.request("exec", process="s1", args=["sleep", "100"], stdout=0, stderr=0)
    a.reply(rid)
    rid = a.request("signal", process="s1", signal=15)
    check("signal is accepted", a.reply(rid)["ok"])
    r = a.collect("s1", 0, 0)
    check("SIGTERM gives 143", r["status"] == 143, r)
    rid = a.request("signal", process="s1", signal=15)
    check("signal to a finished process fails", not a.reply(rid)["ok"])

    # The main process leaves a background child holding stdout; vminitd kills it.
    rid = a.request("exec", process="e9", args=["sleep", "100"], stdout=0, stderr=0)
    a.reply(rid)
    rep, r = a.run("main", ["sh", "-c", "sleep 100 & echo main-out; exit 5"], timeout=60)
    check("main exit status and output", r and r["status"] == 5 and r["out"] == b"main-out\n", r)
    r = a.collect("e9", 0, 0)
    check("other processes are killed when main ends", r["status"] == 137, r)
    rid = a.request("exec", process="late", args=["true"])
    check("exec after main ended is refused", not a.reply(rid)["ok"])
    rid = a.request("shutdown")
    rep = a.reply(rid, 30)
    check("shutdown is answered", rep.get("ok"), rep)
    try:
        a.read_frame(30)
        closed = False
    except EOFError:
        closed = True
    check("the VM goes away after shutdown", closed)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash is one failure, with its reason
        print("fail agent session: %r" % (e,), flush=True)
