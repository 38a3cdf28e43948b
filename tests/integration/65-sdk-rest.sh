#!/usr/bin/env bash
# The rest of Docker Engine's API edge that SDKs use (issue 13): HostConfig fields a VM
# can honour or must refuse with the reason (PidMode/IpcMode/UTSMode, CpusetCpus,
# DeviceCgroupRules, bind propagation, VolumesFrom), LogConfig `none`, the legacy link
# variables, detach keys (attach `detachKeys`, exec `DetachKeys`, the docker CLI's
# `--detach-keys`), `container run --health-*`, State.Health across a daemon restart.
# Driven with curl, the docker CLI, python3 (raw hijacked sockets, a pty) and our CLI.
# Two VMs at a time at most.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
source "$(dirname "$0")/50-registry-lib.bash"
plan_start
# one namespace for the whole test: the registry and the daemon share its loopback
netns_reexec sdkrest || need "cannot create a network namespace (\`ip netns add\` needs root)"
need_docker_cli
# the registry stops first: the daemon's cleanup waits for every child
at_exit 'kill ${REG_PID_plain:-} 2>/dev/null'
daemon_fixtures
daemon_start || need "the daemon did not start"
msg() { jq -r .message "$T_TMP/api.out"; }
create_code() { api POST /containers/create "$1" >/dev/null; echo "$(code) $(msg)"; }

# ---- 1. namespace modes: private ones accepted, sharing ones refused with the reason ----
check_eq "PidMode host: 400 naming why" \
    "400 \`HostConfig.PidMode\` \`host\` cannot be honoured: each container runs in a VM of its own, which has no PID namespace of the host or of another container to share" \
    "$(create_code '{"Image":"busybox","HostConfig":{"PidMode":"host"}}')"
check_eq "IpcMode container:x: 400 naming why" "400" \
    "$(create_code '{"Image":"busybox","HostConfig":{"IpcMode":"container:x"}}' | cut -d' ' -f1)"
check_eq "UTSMode bogus: moby's words" "400 invalid UTS mode: bogus" \
    "$(create_code '{"Image":"busybox","HostConfig":{"UTSMode":"bogus"}}')"
check_eq "PidMode private, IpcMode shareable: created" "201" \
    "$(create_code '{"Image":"busybox","HostConfig":{"PidMode":"private","IpcMode":"shareable"}}' | cut -d' ' -f1)"

# ---- 2. CpusetCpus, DeviceCgroupRules, bind propagation ----
check_eq "CpusetCpus 1-0: moby's words" "400 Invalid value 1-0 for cpuset cpus" \
    "$(create_code '{"Image":"busybox","HostConfig":{"CpusetCpus":"1-0"}}')"
check_eq "CpusetCpus beyond the VM's vCPUs: 400" \
    "400 Requested CPUs are not available - requested 0-3, available: 0-0 (the container's VM has 1 vCPUs)" \
    "$(create_code '{"Image":"busybox","HostConfig":{"CpusetCpus":"0-3"}}')"
check_eq "DeviceCgroupRules bad: 400" "400 invalid device cgroup rule format: 'c 1:x rwm'" \
    "$(create_code '{"Image":"busybox","HostConfig":{"DeviceCgroupRules":["c 1:x rwm"]}}')"
mkdir -p "$T_TMP/share"
body=$(jq -nc --arg s "$T_TMP/share" '{Image:"busybox",HostConfig:{CpusetCpus:"0",
  DeviceCgroupRules:["c 1:3 mr","a *:* rwm"], Binds:["\($s):/b1:rshared"],
  Mounts:[{Type:"bind",Source:$s,Target:"/b2",BindOptions:{Propagation:"rslave"}}]}}')
api POST "/containers/create?name=hc" "$body" >/dev/null
check_eq "CpusetCpus 0, device rules, rshared and rslave binds: created" 201 "$(code)"
check_eq "  inspect shows them" '0 ["c 1:3 mr","a *:* rwm"] rshared,rslave' \
    "$(state hc '"\(.HostConfig.CpusetCpus) \(.HostConfig.DeviceCgroupRules|tojson) \([.Mounts[]|.Propagation]|join(","))"')"
api DELETE /containers/hc >/dev/null
check_eq "Mounts propagation bogus: 400" "400" \
    "$(create_code "$(jq -nc --arg s "$T_TMP/share" '{Image:"busybox",HostConfig:{Mounts:[{Type:"bind",Source:$s,Target:"/b",BindOptions:{Propagation:"bogus"}}]}}')" | cut -d' ' -f1)"
check_eq "VolumesFrom a missing container: 404" "404 No such container: nosuch" \
    "$(create_code '{"Image":"busybox","HostConfig":{"VolumesFrom":["nosuch"]}}')"
api POST "/containers/create?name=dkeys" '{"Image":"busybox","Cmd":["true"]}' >/dev/null
api POST "/containers/dkeys/attach?stream=1&stdin=1&detachKeys=ctrl-,x" >/dev/null
check_eq "attach detachKeys invalid: 400, moby's words" "400 Invalid detach keys (ctrl-,x) provided" "$(code) $(msg)"
api DELETE /containers/dkeys >/dev/null

# ---- 3. our CLI: --health-*, --detach-keys checks ----
export CONTAINER_HOST=unix://$SOCK
out=$(timeout 60 "$BIN/container" create --name hcli --health-cmd 'exit 0' --health-interval 1m30s \
    --health-retries 4 --health-start-period 500ms busybox true 2>&1)
check_eq "container create --health-*: Config.Healthcheck" \
    '{"Interval":90000000000,"Retries":4,"StartPeriod":500000000,"Test":["CMD-SHELL","exit 0"],"Timeout":0}' \
    "$(api GET /containers/hcli/json | jq -cS .Config.Healthcheck)"
[ "$(code)" = 200 ] || diag "$out"
api DELETE /containers/hcli >/dev/null
out=$(timeout 60 "$BIN/container" create --no-healthcheck --health-retries 1 busybox true 2>&1)
check_contains "--no-healthcheck with --health-*: refused" "$out" "conflicts with"
out=$(timeout 60 "$BIN/container" run -it --detach-keys ctrl-P busybox true 2>&1)
check_contains "--detach-keys ctrl-P: refused" "$out" "invalid value \`ctrl-P\` for \`--detach-keys\`"

# ---- 3b. update: resources of a created container ----
check "docker create upd" docker create --name upd busybox true
dk update --memory 300m --cpus 1 --cpu-shares 512 --pids-limit 50 --memory-reservation 100m upd
check_eq "docker update --memory --cpus --cpu-shares --pids-limit --memory-reservation" 0 "$rc"
[ "$rc" = 0 ] || diag "$out"
check_eq "  inspect shows them" "314572800 1000000000 512 50 104857600" \
    "$(state upd '"\(.HostConfig.Memory) \(.HostConfig.NanoCpus) \(.HostConfig.CpuShares) \(.HostConfig.PidsLimit) \(.HostConfig.MemoryReservation)"')"
UPD_ID=$(state upd .Id)
check_eq "  the VM's size for the next start" "300 1" \
    "$(jq -r '"\(.vm.memory_mib) \(.vm.cpus)"' "$DATA/containers/$UPD_ID/config.json")"
api POST /containers/upd/update '{"CpuPeriod":10}' >/dev/null
check_eq "update CpuPeriod 10: dockerd's words" \
    "400 CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1 second (i.e. 1000000)" "$(code) $(msg)"
api POST /containers/upd/update '{"MemoryReservation":524288000}' >/dev/null
check_eq "update MemoryReservation above Memory: 400" \
    "400 Minimum memory limit can not be less than memory reservation limit, see usage" "$(code) $(msg)"
api POST /containers/upd/update '{"BlkioWeight":300}' >/dev/null
check_eq "update BlkioWeight: 400 naming it" "400" "$(code)"
check "docker rm upd" docker rm upd

# ---- 3c. GET /distribution/{name}/json against a local docker-registry ----
if [ -x /usr/bin/docker-registry ]; then
    start_registry plain || not_ok "start docker-registry"
    H=127.0.0.1:$REG_PORT_plain
    BB=$(api GET /images/busybox:latest/json | jq -r .Id)
    timeout 120 "$BIN/container" image tag busybox:latest "$H/t/bb:v1" >/dev/null 2>&1
    out=$(timeout 300 "$BIN/container" image push "$H/t/bb:v1" 2>&1)
    check_eq "push busybox to the local registry" 0 "$?"
    d=$(api GET "/distribution/$H/t/bb:v1/json")
    check_eq "distribution inspect: the descriptor's digest, Docker's shape" "200 $BB true true" \
        "$(code) $(jq -r '"\(.Descriptor.digest) \(.Descriptor.size > 0) \(.Descriptor.mediaType|length > 0)"' <<<"$d")"
    check_eq "  Platforms from the image config" '[{"architecture":"amd64","os":"linux"}]' \
        "$(jq -c '.Platforms' <<<"$d")"
    api GET "/distribution/$H/t/bb:nosuch/json" >/dev/null
    check_eq "  an unknown tag: 404" 404 "$(code)"
    out=$(/usr/bin/python3 -c 'import docker, sys
r = docker.from_env().images.get_registry_data(sys.argv[1])
print(r.id, r.has_platform("linux/amd64"))' "$H/t/bb:v1" 2>&1)
    check_eq "python: images.get_registry_data" "$BB True" "$out"
else
    skip "docker-registry is not installed (apt-get install docker-registry)"
fi

# ---- 4. db: an interactive shell with a healthcheck, a volume, an exposed port ----
check "docker run -dit db (healthcheck, -v /data, --expose 6379)" \
    docker run -dit --name db -e SECRET=s3 --expose 6379 -v /data --health-cmd true \
    --health-interval 1s busybox sh
DB_IP=$(state db .NetworkSettings.IPAddress)
dk exec db sh -c 'echo shared >/data/f'
check_eq "a file in db's volume" 0 "$rc"
dk update --memory 1g db
check_contains "update of a running VM beyond its size: refused, naming why" "$out" "which cannot grow"
dk update --memory 200m --cpu-shares 256 db
check_eq "update of a running VM within its size" "0 209715200 256" \
    "$rc $(state db '"\(.HostConfig.Memory) \(.HostConfig.CpuShares)"')"

# ---- 5. app: --link, --volumes-from, --log-driver none ----
dk run --name app --log-driver none --link db:redis --volumes-from db:ro --group-add 4242 busybox \
    sh -c 'env | grep ^REDIS_ | sort; cat /data/f; touch /data/g 2>/dev/null || echo ro; echo "groups: $(id -G)"'
check_contains "run --group-add 4242: the process has the group" "$(grep '^groups:' <<<"$out")" " 4242"
out=$(grep -v '^groups:' <<<"$out")
check_eq "run --link db:redis: moby's link variables; --volumes-from db:ro" \
    "0 REDIS_ENV_SECRET=s3 REDIS_NAME=/app/redis REDIS_PORT=tcp://$DB_IP:6379 REDIS_PORT_6379_TCP=tcp://$DB_IP:6379 REDIS_PORT_6379_TCP_ADDR=$DB_IP REDIS_PORT_6379_TCP_PORT=6379 REDIS_PORT_6379_TCP_PROTO=tcp shared ro" \
    "$rc $(echo $out)"
APP_ID=$(state app .Id)
check_eq "LogConfig none: no container.log, LogPath empty" "absent ''" \
    "$([ -e "$DATA/containers/$APP_ID/container.log" ] && echo present || echo absent) '$(state app .LogPath)'"
check_eq "  inspect Mounts: db's volume at /data, read-only" "/data false" \
    "$(state app '.Mounts[]|select(.Destination=="/data")|"\(.Destination) \(.RW)"')"
dk rm app

# ---- 6. detach keys on a raw hijacked attach and exec (python) ----
out=$(/usr/bin/python3 - "$SOCK" 2>&1 <<'PY'
import json, socket, sys, time
sock = sys.argv[1]
def hijack(method, path, body=b""):
    s = socket.socket(socket.AF_UNIX); s.connect(sock)
    s.sendall(b"%s %s HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
              % (method.encode(), path.encode(), len(body), body))
    hdr = b""
    while b"\r\n\r\n" not in hdr:
        hdr += s.recv(1)
    return s, hdr.split(b"\r\n")[0].decode()
def read_until_closed(s, t):
    s.settimeout(t); data = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return data, True
            data += d
    except socket.timeout:
        return data, False
def call(method, path, body=None):
    s = socket.socket(socket.AF_UNIX); s.connect(sock)
    b = json.dumps(body).encode() if body is not None else b""
    s.sendall(b"%s %s HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (method.encode(), path.encode(), len(b), b))
    data, _ = read_until_closed(s, 30)
    return data.split(b"\r\n")[0].decode(), json.loads(data.split(b"\r\n\r\n", 1)[1] or b"null")
s, st = hijack("POST", "/containers/db/attach?stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-x,e")
print("attach", st)
s.sendall(b"echo mark$((40+2))\n")
time.sleep(3)
s.sendall(b"\x18")  # half of the sequence, then the rest in another read
time.sleep(0.5)
s.sendall(b"e")
data, closed = read_until_closed(s, 20)
print("attach closed after the keys", closed, "mark42" in data.decode(errors="replace"))
print("db running", call("GET", "/containers/db/json")[1]["State"]["Running"])
st, r = call("POST", "/containers/db/exec", {"Cmd": ["cat"], "AttachStdin": True, "AttachStdout": True, "DetachKeys": "ctrl-a,ctrl-b"})
eid = r["Id"]
s, st = hijack("POST", "/exec/%s/start" % eid, b'{"Detach":false,"Tty":false}')
s.sendall(b"abc\n\x01x\n")  # ctrl-a then x: not the sequence, passed on
data, closed = read_until_closed(s, 5)
print("exec echo", b"abc" in data and b"\x01x" in data)
s.sendall(b"\x01\x02")
data, closed = read_until_closed(s, 20)
print("exec closed after the keys", closed)
print("exec running", call("GET", "/exec/%s/json" % eid)[1]["Running"])
st, r = call("POST", "/containers/db/exec", {"Cmd": ["true"], "DetachKeys": "ctrl-"})
print("exec bad keys", st.split()[1], r["message"])
PY
)
check_contains "python: hijacked attach with detachKeys=ctrl-x,e" "$out" "attach HTTP/1.1 101"
check_contains "  the keys end the attach (output seen before)" "$out" "attach closed after the keys True True"
check_contains "  the container keeps running" "$out" "db running True"
check_contains "exec DetachKeys ctrl-a,ctrl-b: a prefix and another key pass through" "$out" "exec echo True"
check_contains "  the keys end the exec's stream" "$out" "exec closed after the keys True"
check_contains "  the exec keeps running" "$out" "exec running True"
check_contains "exec DetachKeys invalid: 400, moby's words" "$out" "exec bad keys 400 Invalid escape keys (ctrl-) provided"
[[ "$out" == *"exec running True"* ]] || diag "$out"

# ---- 6b. the WebSocket attach ----
out=$(/usr/bin/python3 - "$SOCK" 2>&1 <<'PY'
import base64, hashlib, os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /containers/db/attach/ws?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
           "Host: d\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: %s\r\n\r\n" % key).encode())
hdr = b""
while b"\r\n\r\n" not in hdr:
    hdr += s.recv(1)
want = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
print("handshake", hdr.split(b"\r\n")[0].decode(), want in hdr)
def frame(op, data):
    m = os.urandom(4)
    return bytes([0x80 | op, 0x80 | len(data)]) + m + bytes(b ^ m[i % 4] for i, b in enumerate(data))
time.sleep(2)
s.sendall(frame(1, b"echo ws$((2+3))\n"))
buf, ops, seen = b"", set(), b""
s.settimeout(30)
end = time.time() + 30
while time.time() < end and b"ws5" not in seen:
    buf += s.recv(4096)
    while len(buf) >= 2 and len(buf) >= 2 + (buf[1] & 0x7f):
        n = buf[1] & 0x7f
        ops.add(buf[0] & 0x0f); seen += buf[2:2 + n]; buf = buf[2 + n:]
print("output", b"ws5" in seen, "text frames", ops == {1})
s.sendall(frame(8, struct.pack(">H", 1000)))
data = b""
try:
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
except socket.timeout:
    pass
print("close echoed", b"\x88" in data)
PY
)
check_contains "attach/ws: 101 with Sec-WebSocket-Accept" "$out" "handshake HTTP/1.1 101 Switching Protocols True"
check_contains "  a text frame in, the output in text frames" "$out" "output True text frames True"
check_contains "  a close frame is answered" "$out" "close echoed True"
check_eq "  db still running" true "$(state db .State.Running)"
api GET /containers/db/attach/ws >/dev/null
check_eq "attach/ws without the handshake: 400" 400 "$(code)"

# ---- 7. attach --detach-keys in a pty: our CLI, then the docker CLI ----
pty_attach() { # CLI ARGS...: attach in a pty, type a command, then ctrl-x e
    /usr/bin/python3 - "$@" 2>&1 <<'PY'
import fcntl, os, pty, select, signal, struct, sys, termios, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
buf = b""
def pump(t):
    global buf
    end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                return
            if not d:
                return
            buf += d
time.sleep(3)
os.write(fd, b"echo cli$((1+1))\r")
pump(8)
os.write(fd, b"\x18e")
pump(10)
done, st = os.waitpid(pid, os.WNOHANG)
if done == 0:  # still attached after 10 s: it did not detach
    os.kill(pid, signal.SIGKILL)
    _, st = os.waitpid(pid, 0)
print("seen", b"cli2" in buf, "detached", b"detached from container" in buf or b"read escape sequence" in buf)
PY
}
out=$(pty_attach "$BIN/container" attach --detach-keys ctrl-x,e db)
check_contains "container attach --detach-keys ctrl-x,e: detaches" "$out" "seen True detached True"
check_eq "  db still running" true "$(state db .State.Running)"
out=$(DOCKER_HOST=unix://$SOCK pty_attach docker attach --detach-keys ctrl-x,e db)
check_contains "docker attach --detach-keys ctrl-x,e: detaches" "$out" "seen True detached True"
check_eq "  db still running" true "$(state db .State.Running)"

# ---- 8. State.Health across a daemon restart ----
healthy_logged() { [ "$(state db '"\(.State.Health.Status) \(.State.Health.Log|length>=2)"')" = "healthy true" ]; }
wait_for 120 healthy_logged
LOG_BEFORE=$(state db '.State.Health.Log[-1].Start')
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
daemon_start || need "the daemon did not restart"
check_eq "after a daemon restart: still healthy, the log kept" "healthy true" \
    "$(state db '"\(.State.Health.Status) \(.State.Health.Log|length>=2)"')"
check_contains "  the same log" "$(state db '[.State.Health.Log[].Start]|join(" ")')" "$LOG_BEFORE"
dk rm -f -v db
check_eq "docker rm -f db" 0 "$rc"
plan_end
