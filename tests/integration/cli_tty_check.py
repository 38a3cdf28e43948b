#!/usr/bin/env python3
"""Drive `container run -it` in a pseudo-terminal (called by 45-cli.sh).

Checks the terminal size reaches the container and follows SIGWINCH, that
Ctrl-C goes to the container (not to the CLI), and that Ctrl-P Ctrl-Q
detaches with exit 0. Prints one line per check: "PASS desc" or
"FAIL desc: detail"."""
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

cli, name = sys.argv[1], sys.argv[2]
buf = b""


def result(ok, desc, detail=""):
    print(("PASS " if ok else "FAIL ") + desc + ("" if ok else ": " + detail), flush=True)


def setsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def read_until(fd, needle, timeout):
    """Read until needle appears after the current position; True if it did."""
    global buf
    start = len(buf)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if needle in buf[start:]:
            return True
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return needle in buf[start:]
            if not data:
                return needle in buf[start:]
            buf += data
    return needle in buf[start:]


pid, fd = pty.fork()
if pid == 0:
    os.execv(cli, [cli, "run", "-it", "--name", name, "-m", "256M", "busybox", "sh"])
setsize(fd, 30, 100)

if not read_until(fd, b"# ", 120):
    result(False, "run -it shows the shell prompt", repr(buf[-300:]))
    os.kill(pid, signal.SIGKILL)
    sys.exit(0)
result(True, "run -it shows the shell prompt")

os.write(fd, b"stty size\r")
result(read_until(fd, b"30 100", 20), "the terminal size reaches the container", repr(buf[-200:]))

setsize(fd, 40, 120)
os.kill(pid, signal.SIGWINCH)
time.sleep(1)
os.write(fd, b"stty size\r")
result(read_until(fd, b"40 120", 20), "SIGWINCH resizes the container's terminal", repr(buf[-200:]))

os.write(fd, b"sleep 100\r")
time.sleep(2)
os.write(fd, b"\x03")  # Ctrl-C: the container's sleep gets SIGINT, not us
time.sleep(1)
os.write(fd, b"echo after-$((20+1))\r")
got = read_until(fd, b"after-21", 20)
alive = os.waitpid(pid, os.WNOHANG) == (0, 0)
result(got and alive, "Ctrl-C goes to the container", f"output={buf[-200:]!r} cli_alive={alive}")

os.write(fd, b"\x10\x11")  # Ctrl-P Ctrl-Q
code = None
deadline = time.time() + 20
while time.time() < deadline:
    read_until(fd, b"\x00", 0.2)  # drain
    p, status = os.waitpid(pid, os.WNOHANG)
    if p == pid:
        code = os.waitstatus_to_exitcode(status)
        break
result(code == 0, "Ctrl-P Ctrl-Q detaches with exit 0", f"exit={code} output={buf[-200:]!r}")
if code is None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
