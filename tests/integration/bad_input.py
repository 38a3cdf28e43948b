#!/usr/bin/env python3
"""Raw HTTP over the daemon's unix socket for 48-bad-input.sh: requests curl
cannot send (bytes that are not UTF-8 in the path or body, NUL bytes) and
connections left half-sent.

  bad_input.py SOCK req METHOD PATH [BODY]
      PATH and BODY take Python escapes (\\xff, \\x00), so any byte can be
      sent; a BODY of @N sends N bytes of a JSON string. Prints the status on
      the first line, then the reply body.
  bad_input.py SOCK idle N TIMEOUT
      Opens N connections that each send half a request, then checks that
      /_ping still answers, and that the daemon closes the half-sent
      connections once TIMEOUT seconds have passed. Prints PASS/FAIL lines.
"""
import socket
import subprocess
import sys
import time


def unescape(s):
    return s.encode("utf-8").decode("unicode_escape").encode("latin-1")


def connect(sock_path, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    return s


def read_reply(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower()] = v.strip()
    if b"content-length" in headers:
        n = int(headers[b"content-length"])
        while len(body) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        raw, body = body, b""
        while True:
            while b"\r\n" not in raw:
                chunk = s.recv(65536)
                if not chunk:
                    return status, body
                raw += chunk
            size_line, _, raw = raw.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            while len(raw) < size + 2:
                chunk = s.recv(65536)
                if not chunk:
                    break
                raw += chunk
            body += raw[:size]
            raw = raw[size + 2:]
    return status, body


def request(sock_path, method, path, body=None):
    s = connect(sock_path)
    req = method.encode() + b" " + path + b" HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
    if body is not None:
        req += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    s.sendall(req + b"\r\n" + (body or b""))
    status, reply = read_reply(s)
    s.close()
    return status, reply


def ping(sock_path, timeout):
    """From another process: the limit per client counts this one's connections."""
    t0 = time.monotonic()
    r = subprocess.run(["curl", "-sf", "-m", str(timeout), "--unix-socket", sock_path,
                        "http://d/_ping"], capture_output=True)
    return r.returncode == 0 and r.stdout == b"OK", time.monotonic() - t0


def idle(sock_path, n, timeout):
    conns = []
    failed = 0
    for _ in range(n):
        try:
            s = connect(sock_path, 1)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nX-Half: ")
            conns.append(s)
        except OSError:
            failed += 1  # refused (over the limit per client) or the backlog is full
    print("# %d connections sent half a request, %d could not" % (len(conns), failed))
    time.sleep(0.5)
    ok, took = ping(sock_path, 5)
    print(("PASS" if ok else "FAIL") + " /_ping answers with %d half-sent requests open"
          " (%.2f s)" % (len(conns), took))
    # The daemon closes them after the idle timeout (and refused those over the
    # per-client limit at once).
    deadline = time.monotonic() + timeout + 10
    closed = 0
    for s in conns:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            if s.recv(1) == b"":
                closed += 1
        except ConnectionResetError:
            closed += 1
        except OSError:
            pass
        s.close()
    took = time.monotonic() - (deadline - timeout - 10)
    print(("PASS" if closed == len(conns) else "FAIL") +
          " the daemon closed %d of %d half-sent requests (after %.1f s)" %
          (closed, len(conns), took))
    ok, took = ping(sock_path, 5)
    print(("PASS" if ok else "FAIL") + " /_ping answers afterwards (%.2f s)" % took)


def main():
    sock_path, cmd = sys.argv[1], sys.argv[2]
    if cmd == "req":
        method, path = sys.argv[3], unescape(sys.argv[4])
        body = None
        if len(sys.argv) > 5:
            arg = sys.argv[5]
            if arg.startswith("@"):
                body = b'"' + b"x" * int(arg[1:]) + b'"'
            else:
                body = unescape(arg)
        try:
            status, reply = request(sock_path, method, path, body)
        except OSError as e:
            print("0\nconnection failed: %s" % e)
            return
        sys.stdout.write("%d\n" % status)
        sys.stdout.buffer.write(reply)
        sys.stdout.write("\n")
    elif cmd == "idle":
        idle(sock_path, int(sys.argv[3]), float(sys.argv[4]))
    else:
        sys.exit("unknown command " + cmd)


main()
