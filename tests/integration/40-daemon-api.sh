#!/usr/bin/env bash
# container-apiserver end to end: the Docker Engine API over its unix socket,
# driven with curl, raw hijacked sockets (python3), the real docker CLI and the
# Python Docker SDK. Containers are real microVMs (TCG here): one at a time.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
daemon_fixtures
daemon_start || need "the daemon did not start"

# ---- HTTP basics, versions, errors ----
hdrs=$(curl -s -D - -o /dev/null --unix-socket "$SOCK" http://d/_ping)
check_contains "_ping sends API-Version 1.43" "$hdrs" "API-Version: 1.43"
check_contains "_ping sends OSType linux" "$hdrs" "OSType: linux"
check_contains "_ping sends Builder-Version" "$hdrs" "Builder-Version:"
check_contains "_ping sends Cache-Control no-cache" "$hdrs" "Cache-Control: no-cache"
check_eq "HEAD /_ping answers 200" "200" "$(curl -s -I -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" http://d/_ping)"
body=$(api GET /v1.44/version)
check_eq "a too new API version is refused with 400" "400" "$(code)"
check_eq "with docker's message" "client version 1.44 is too new. Maximum supported API version is 1.43" "$(jq -r .message <<<"$body")"
body=$(api GET /v1.23/version)
check_contains "a too old API version is refused" "$(code) $body" "400 {\"message\":\"client version 1.23 is too old"
check_eq "/v1.24/version is served" "1.43" "$(api GET /v1.24/version | jq -r .ApiVersion)"
check_eq "/version without a prefix is served" "200" "$(api GET /version >/dev/null; code)"
body=$(api GET /containers/nope/json)
check_eq "unknown container: 404 naming it" "404 No such container: nope" "$(code) $(jq -r .message <<<"$body")"
body=$(api POST /containers/create '{"Image":"nosuchimage:1"}')
check_eq "create from an unknown image: 404 naming it" "404 No such image: nosuchimage:1" "$(code) $(jq -r .message <<<"$body")"
# Docker's decoder ignores unknown fields (57-sdk-api has the case-insensitive names)
id=$(api POST /containers/create '{"Image":"busybox","Bogus":1,"HostConfig":{"Bogus2":2}}' | jq -r .Id)
check_eq "unknown fields are ignored, as Docker: 201" "201" "$(code)"
check_eq "  and not kept in inspect" "null null" "$(api GET "/containers/$id/json" | jq -c '.Config.Bogus, .HostConfig.Bogus2' | tr '\n' ' ' | sed 's/ $//')"
api DELETE "/containers/$id" >/dev/null
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"Privileged":true}}')
check_contains "unsupported HostConfig.Privileged: 400 naming it" "$(code) $body" '400 {"message":"`HostConfig.Privileged`'
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"Binds":["rel/dir:/host"]}}')
check_contains "a relative bind source: 400 naming it" "$(code) $body" '400 {"message":"volume spec `rel/dir:/host`: bind source `rel/dir` must be an absolute host path'
body=$(api POST /containers/create '{"Image":"busybox",')
check_contains "malformed JSON: 400" "$(code) $body" "400 {\"message\":\"malformed JSON"
body=$(api POST '/containers/create?name=bad%20name' '{"Image":"busybox"}')
check_eq "an invalid name: 400" "400" "$(code)"
body=$(api POST '/containers/create?name=m1' '{"Image":"busybox","HostConfig":{"Memory":1048576}}')
check_contains "memory below the floor: 400 naming the floor" "$(code) $body" "400"
check_contains "  (the floor is named)" "$body" "128"

# ---- project routes ----
st=$(api GET /container/system/status)
check_eq "system status: running, our data root and socket" "true $DATA $SOCK" \
    "$(jq -r '[.Running, .DataRoot, .Socket] | map(tostring) | join(" ")' <<<"$st")"
check_eq "system status: kernel and initrd present" "true true" "$(jq -r '[.Kernel.Present, .Initrd.Present] | map(tostring) | join(" ")' <<<"$st")"
check_eq "system df counts the image" "1" "$(api GET /container/system/df | jq .Images.Count)"
body=$(api POST /container/system/kernel '{"Binary":"/etc/hostname"}')
check_contains "kernel set refuses a file that is no kernel" "$(code) $body" "400 {\"message\":\"not a kernel"
body=$(api POST /container/system/kernel "{\"Binary\":\"$(readlink -f "$KERNEL")\"}")
check_eq "kernel set installs it under the data root" "200 $DATA/kernel/vmlinux true" \
    "$(code) $(jq -r '[.Path, .Present] | map(tostring) | join(" ")' <<<"$body")"
check_eq "  with the same content" "sha256:$(sha256sum <"$KERNEL" | cut -d' ' -f1)" "$(jq -r .Sha256 <<<"$body")"

# ---- create / wait (headers at once) / start / logs / inspect / rm through curl ----
id=$(api POST '/containers/create?name=c1' '{"Image":"busybox","Cmd":["sh","-c","echo out1; echo err1 >&2; exit 3"],"Labels":{"suite":"daemon"}}' | jq -r .Id)
check_eq "create answers 201 with the id" "201 64" "$(code) ${#id}"
api POST '/containers/create?name=c1' '{"Image":"busybox"}' >/dev/null
check_eq "the same name again: 409" "409" "$(code)"
check_eq "list all shows it created" "created" "$(api GET '/containers/json?all=1&filters=%7B%22name%22%3A%5B%22c1%22%5D%7D' | jq -r '.[0].State')"
check_eq "label filter finds it" "/c1" "$(api GET '/containers/json?all=1&filters=%7B%22label%22%3A%5B%22suite%3Ddaemon%22%5D%7D' | jq -r '.[0].Names[0]')"
check_eq "without all, a created container is not listed" "0" "$(api GET /containers/json | jq length)"
curl -s -N -D "$T_TMP/wait.hdr" -o "$T_TMP/wait.body" --unix-socket "$SOCK" -X POST "http://d/containers/c1/wait?condition=next-exit" &
wpid=$!
wait_for 5 grep -q "200 OK" "$T_TMP/wait.hdr"
check_eq "wait flushes its status line before the container even started" "0" "$?"
start_code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X POST http://d/containers/c1/start)
check_eq "start answers 204" "204" "$start_code"
wait $wpid
check_eq "wait answers the exit code" '{"StatusCode":3,"Error":null}' "$(cat "$T_TMP/wait.body")"
curl -s --unix-socket "$SOCK" "http://d/containers/c1/logs?stdout=1&stderr=1" >"$T_TMP/logs.bin"
check_eq "logs are multiplexed: stdout frame then stderr frame" \
    "01000000000000056f7574310a02000000000000056572723 10a" \
    "$(od -An -tx1 "$T_TMP/logs.bin" | tr -d ' \n' | sed 's/\(.\{49\}\)/\1 /')"
check_eq "logs?stderr=1 only" "err1" "$(curl -s --unix-socket "$SOCK" "http://d/containers/c1/logs?stderr=1" | tail -c +9)"
ts=$(curl -s --unix-socket "$SOCK" "http://d/containers/c1/logs?stdout=1&timestamps=1&tail=2" | tail -c +9)
[[ "$ts" =~ ^20[0-9-]+T[0-9:.]+Z\ out1$ ]] && ok "logs timestamps=1 prefix RFC 3339 times" || not_ok "logs timestamps=1: $ts"
insp=$(api GET /containers/c1/json)
check_eq "inspect: Docker's field names and values" "exited false 3 /c1 sh busybox" \
    "$(jq -r '[.State.Status, .State.Running, .State.ExitCode, .Name, .Path, .Config.Image] | join(" ")' <<<"$insp")"
check_eq "inspect: NetworkSettings and Mounts present" "object array" "$(jq -r '[(.NetworkSettings|type), (.Mounts|type)] | join(" ")' <<<"$insp")"
check_eq "status filter exited finds it" "/c1" "$(api GET '/containers/json?filters=%7B%22status%22%3A%5B%22exited%22%5D%7D' | jq -r '.[0].Names[0]')"
api DELETE /containers/c1 >/dev/null
check_eq "delete answers 204" "204" "$(code)"
api GET /containers/c1/json >/dev/null
check_eq "then it is gone (404)" "404" "$(code)"

# ---- attach (hijack) with stdin and a half-close, before the start ----
id=$(api POST '/containers/create?name=cat1' '{"Image":"busybox","Cmd":["cat"],"OpenStdin":true,"StdinOnce":true,"AttachStdin":true}' | jq -r .Id)
out=$(timeout 60 python3 - "$SOCK" <<'PY'
import socket, sys, struct, threading, http.client
sock = sys.argv[1]
a = socket.socket(socket.AF_UNIX); a.connect(sock)
a.sendall(b"POST /containers/cat1/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\n"
          b"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n")
buf = b""
while b"\r\n\r\n" not in buf:
    buf += a.recv(4096)
head, _, rest = buf.partition(b"\r\n\r\n")
status = head.split(b"\r\n")[0].decode()
s = socket.socket(socket.AF_UNIX); s.connect(sock)
s.sendall(b"POST /containers/cat1/start HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n")
s.recv(4096)
a.sendall(b"abc\n")
a.shutdown(socket.SHUT_WR)  # half-close: the container's stdin ends
data = rest
while True:
    x = a.recv(65536)
    if not x: break
    data += x
out = b""
while len(data) >= 8:
    n = struct.unpack(">I", data[4:8])[0]
    out += bytes([48 + data[0]]) + b":" + data[8:8 + n]
    data = data[8 + n:]
print(status.split(" ")[1], out.decode().strip())
PY
)
check_eq "attach: 101, stdin relayed, half-close ends cat (multiplexed stdout frame)" "101 1:abc" "$out"
check_eq "cat exited 0 after its stdin closed" '{"StatusCode":0,"Error":null}' \
    "$(curl -s --unix-socket "$SOCK" -X POST http://d/containers/cat1/wait)"
api DELETE /containers/cat1 >/dev/null

# ---- terminal size: ConsoleSize at create, a resize before the start ----
api POST '/containers/create?name=tsz0' '{"Image":"busybox","Tty":true,"HostConfig":{"ConsoleSize":[5]}}' >/dev/null
check_eq "a malformed ConsoleSize is refused with 400" 400 "$(code)"
api POST '/containers/create?name=tsz1' '{"Image":"busybox","Tty":true,"Cmd":["stty","size"],"HostConfig":{"ConsoleSize":[11,22]}}' >/dev/null
check_eq "create with ConsoleSize" 201 "$(code)"
api POST '/containers/create?name=tsz2' '{"Image":"busybox","Tty":true,"Cmd":["stty","size"]}' >/dev/null
api POST '/containers/tsz2/resize?h=13&w=24' >/dev/null
check_eq "a resize of a created container is accepted" 200 "$(code)"
for n in tsz1 tsz2; do
    api POST /containers/$n/start >/dev/null
    curl -s --max-time 120 --unix-socket "$SOCK" -X POST http://d/containers/$n/wait >/dev/null
done
check_eq "the process starts with HostConfig.ConsoleSize" "11 22" "$(api GET '/containers/tsz1/logs?stdout=1' | tr -d '\r\n')"
check_eq "the process starts with the size given before the start" "13 24" "$(api GET '/containers/tsz2/logs?stdout=1' | tr -d '\r\n')"
api POST '/containers/tsz2/resize?h=1&w=1' >/dev/null
check_eq "a resize of an exited container is a 409" 409 "$(code)"
api DELETE /containers/tsz1 >/dev/null
api DELETE /containers/tsz2 >/dev/null

# ---- stats: Docker's shape, from the QEMU process ----
api POST '/containers/create?name=st1' '{"Image":"busybox","Cmd":["sh","-c","while :; do :; done"],"HostConfig":{"Memory":268435456}}' >/dev/null
api POST /containers/st1/start >/dev/null
out=$(api GET '/containers/st1/stats?stream=0')
check_eq "stats?stream=0 answers 200" 200 "$(code)"
check_eq "stats: id, name, memory limit = the VM's memory" "64 /st1 268435456" \
    "$(jq -r '"\(.id | length) \(.name) \(.memory_stats.limit)"' <<<"$out")"
check "stats: memory usage is the VM's resident memory (> 1 MiB)" [ "$(jq .memory_stats.usage <<<"$out")" -gt 1048576 ]
check "stats: the busy loop used CPU between precpu and cpu" \
    [ "$(jq '.cpu_stats.cpu_usage.total_usage - .precpu_stats.cpu_usage.total_usage' <<<"$out")" -gt 0 ]
check "stats: system_cpu_usage advanced" \
    [ "$(jq '.cpu_stats.system_cpu_usage - .precpu_stats.system_cpu_usage' <<<"$out")" -gt 0 ]
check_eq "stats: pids_stats and networks are present" '{} {}' "$(jq -c '.pids_stats, .networks' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
out=$(api GET '/containers/st1/stats?stream=0&one-shot=1')
check_eq "stats one-shot: no previous sample" 0 "$(jq .precpu_stats.cpu_usage.total_usage <<<"$out")"
n=$(timeout 4.5 curl -sN --unix-socket "$SOCK" http://d/containers/st1/stats | grep -c '"read"')
check "stats streams about a sample a second (got $n in 4.5 s)" [ "$n" -ge 2 -a "$n" -le 5 ]
api POST '/containers/st1/kill' >/dev/null
curl -s --max-time 60 --unix-socket "$SOCK" -X POST http://d/containers/st1/wait >/dev/null
out=$(timeout 10 curl -sN --unix-socket "$SOCK" http://d/containers/st1/stats)
check_eq "stats of a stopped container: one zero sample, then the stream ends" "0 0001-01-01T00:00:00Z" "$? $(jq -r .read <<<"$out")"
api DELETE /containers/st1 >/dev/null

# ---- the real docker CLI ----
if ! command -v docker >/dev/null; then
    skip "docker CLI missing (apt-get install docker.io; only the client is used)"
else
    check_contains "docker version talks to us" "$(docker version 2>&1)" "API version:      1.43"
    out=$(timeout 120 docker run --rm busybox echo hi 2>&1)
    rc=$?
    check_eq "docker run --rm busybox echo hi" "hi 0" "$out $rc"
    check_eq "--rm removed it" "" "$(docker ps -aq)"
    timeout 120 docker run --name ex7 busybox sh -c 'exit 7' >/dev/null 2>&1
    check_eq "docker run exit code is the container's" "7" "$?"
    out=$(timeout 120 docker run --rm busybox nosuchcmd 2>&1)
    rc=$?
    check_eq "a missing executable exits 127 like docker" "127" "$rc"
    check_contains "  with docker's message" "$out" "executable file not found"
    id=$(docker run -d --name web busybox sh -c 'i=0; while true; do echo line $i; i=$((i+1)); sleep 0.3; done')
    check_eq "docker run -d prints the id" "64" "${#id}"
    out=$(timeout 3 docker logs -f web)
    check_contains "docker logs -f streams new lines" "$out" "line 4"
    check_contains "docker ps shows it up" "$(docker ps)" "Up "
    out=$(docker exec web sh -c 'echo from-exec; exit 4')
    check_eq "docker exec runs in it, with its exit code" "from-exec 4" "$out $?"
    check_contains "docker stats --no-stream prints a row" "$(timeout 30 docker stats --no-stream web)" "MiB / "
    out=$(timeout 120 /usr/bin/python3 - <<'PY' 2>&1
import fcntl, os, pty, select, struct, termios, time
pid, fd = pty.fork()
if pid == 0:  # the size is set before docker can read it
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 111, 0, 0))
    os.execvp("docker", ["docker", "run", "-it", "--rm", "busybox", "stty", "size"])
buf, end = b"", time.time() + 100
while time.time() < end:
    if select.select([fd], [], [], 0.5)[0]:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        buf += data
print(buf.decode(errors="replace").replace("\r", "").strip())
os.waitpid(pid, 0)
PY
)
    check_eq "docker run -it in a pty: the container gets the terminal's size" "33 111" "$out"
    check_eq "docker exec -i relays stdin" "piped" "$(echo piped | docker exec -i web cat)"
    out=$(set -o pipefail; printf 'tty; echo in-tty; exit 5\n' | timeout 30 script -qec "docker exec -it web sh" /dev/null | tr -d '\r')
    rc=$?
    check_contains "docker exec -it gets a pty" "$out" "/dev/pts/"
    check_eq "docker exec -it exit code" "5" "$rc"
    check_eq "docker inspect" "running /web" "$(docker inspect -f '{{.State.Status}} {{.Name}}' web)"
    check_eq "docker stop" "web" "$(timeout 60 docker stop -t 2 web)"
    # sh is PID 1 of its PID namespace with no SIGTERM handler: stop's SIGKILL after
    # the timeout ends it, 137, as under Docker
    check_eq "docker wait returns the code" "137" "$(timeout 30 docker wait web)"
    check_eq "docker rm" "web ex7" "$(docker rm web ex7 | tr '\n' ' ' | sed 's/ $//')"
    check_contains "docker images" "$(docker images)" "busybox      latest"
    digest=$(docker inspect -f '{{.Id}}' busybox)
    docker save busybox -o "$T_TMP/bb.tar" && docker rmi busybox >/dev/null && docker load -i "$T_TMP/bb.tar" >/dev/null
    check_eq "docker save / rmi / load round-trips the image id" "$digest" "$(docker inspect -f '{{.Id}}' busybox 2>&1)"
    check_eq "the archive is also an OCI layout" "index.json manifest.json oci-layout" \
        "$(tar tf "$T_TMP/bb.tar" | grep -v / | sort | tr '\n' ' ' | sed 's/ $//')"
fi

# ---- Python Docker SDK ----
if /usr/bin/python3 -c 'import docker' 2>/dev/null; then
    out=$(timeout 120 /usr/bin/python3 - "$SOCK" <<'PY' 2>&1
import sys, docker
c = docker.DockerClient(base_url="unix://" + sys.argv[1])
ct = c.containers.run("busybox", ["sh", "-c", "echo sdk-out; echo sdk-err >&2"], detach=True)
print(ct.wait()["StatusCode"], ct.logs().decode().replace("\n", " ").strip())
ct.remove()
PY
)
    check_eq "the Python SDK runs a container and reads its logs" "0 sdk-out sdk-err" "$out"
else
    skip "python3-docker missing (apt-get install python3-docker)"
fi

# ---- events ----
now=$(date +%s)
ev=$(curl -s --unix-socket "$SOCK" "http://d/events?since=0&until=$now&filters=%7B%22type%22%3A%5B%22container%22%5D%7D" | jq -r .Action | sort -u | tr '\n' ' ')
check_contains "events carry create start die destroy" "$ev" "create destroy die"
check_contains "  and start" "$ev" "start"
check_eq "no container left behind" "0" "$(api GET '/containers/json?all=1' | jq length)"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
check_eq "SIGTERM stops the daemon cleanly" "0" "$?"
check_eq "the daemon's stderr holds no sanitizer report" "" \
    "$(grep -E 'Sanitizer|runtime error' "$T_TMP/daemon.err" | head -3)"
plan_end
