#!/usr/bin/env bash
# Hostile and malformed requests at the daemon's API edge (issue 11): bytes that are not
# UTF-8 and NUL bytes in every string-carrying place (path, query, JSON fields), wrong
# JSON types, huge sizes, half-sent requests. Each must get a clear 4xx (or Docker's
# status) with a {"message": ...} reply, the daemon must still answer /_ping, and nothing
# may change on disk. Containers are created, not started, except one VM that checks
# that streams outlive the idle timeout. CTR_DAEMON=build-asan/bin/container-apiserver
# runs it under ASan (the test then also checks the daemon's stderr for reports).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
daemon_fixtures
command -v python3 >/dev/null || need "python3 missing"
IDLE=3
export CONTAINER_API_IDLE_TIMEOUT=$IDLE
# A small file system for the uploads (images/load), before the daemon starts: it runs in
# a mount namespace of its own (ip netns exec), which sees only what was mounted before.
mkdir -p "$DATA/tmp"
if mount -t tmpfs -o size=256k tmpfs "$DATA/tmp" 2>/dev/null; then
    at_exit "umount -l $DATA/tmp"
    SMALL_TMP=1
fi
daemon_start || need "the daemon did not start"
PY=$TOP/tests/integration/bad_input.py
FFFD=$'\xef\xbf\xbd'

alive() { curl -sf -m 5 --unix-socket "$SOCK" http://d/_ping 2>/dev/null; }

# raw METHOD PATH [BODY]: python escapes in PATH and BODY; sets STATUS and MSG (.message).
raw() {
    local out
    out=$(python3 "$PY" "$SOCK" req "$@")
    STATUS=$(head -1 <<<"$out")
    REPLY=$(tail -n +2 <<<"$out")
    MSG=$(jq -r .message <<<"$REPLY" 2>/dev/null) || MSG="(not JSON: $REPLY)"
}

# expect DESC STATUS NEEDLE METHOD PATH [BODY]: the status, a message holding NEEDLE, and
# the daemon still up.
expect() {
    local desc=$1 want=$2 needle=$3
    shift 3
    raw "$@"
    [ "$1" == HEAD ] && MSG="(HEAD: no body)" needle="" # the status is the whole answer
    if [ "$STATUS" == "$want" ] && [[ "$MSG" == *"$needle"* ]] && [ -n "$MSG" ] && alive >/dev/null; then
        ok "$desc"
    else
        not_ok "$desc"
        diag "want $want with \`$needle\`; got $STATUS: $(printf '%q' "$MSG" | head -c 400)"
        alive >/dev/null || revive
    fi
}

# A daemon that died is reported and started again, so one crash does not hide the next.
revive() {
    diag "the daemon no longer answers /_ping:" "$(tail -3 "$T_TMP/daemon.err")"
    kill "$DAEMON_PID" 2>/dev/null
    wait "$DAEMON_PID" 2>/dev/null
    daemon_start || diag "and it does not start again"
}

# The data root as the refused requests must leave it.
disk_state() {
    (cd "$DATA" && find containers volumes networks images -maxdepth 1 2>/dev/null | sort)
}

# A container to aim at (created only: no VM).
body=$(api POST '/containers/create?name=target' '{"Image":"busybox","Cmd":["true"]}')
check_eq "a container to aim at is created" "201" "$(code)"
before=$(disk_state)
fd0_before=$(readlink "/proc/$DAEMON_PID/fd/0")

# ---- 1. text that is not UTF-8 reaches error messages: U+FFFD, never a crash ----
expect "GET /containers/%ff/json: 404 with U+FFFD" 404 "No such container: $FFFD" GET '/containers/%ff/json'
expect "GET /containers/caf%e9/json: 404" 404 "caf$FFFD" GET '/containers/caf%e9/json'
expect "raw byte 0xff in the path: 404" 404 "$FFFD" GET '/containers/\xff/json'
expect "GET /%ff: 404" 404 "page not found" GET '/%ff'
expect "/v1.%ff/_ping: 400" 400 "malformed API version" GET '/v1.%ff/_ping'
expect "GET /images/%ff/json: 400 like Docker" 400 "invalid reference format: \`$FFFD\`" GET '/images/%ff/json'
expect "GET /volumes/%ff: 404" 404 "$FFFD" GET '/volumes/%ff'
expect "GET /networks/%ff: 404" 404 "$FFFD" GET '/networks/%ff'
expect "GET /exec/%ff/json: 404" 404 "$FFFD" GET '/exec/%ff/json'
expect "POST /containers/%ff/start: 404" 404 "$FFFD" POST '/containers/%ff/start'
expect "DELETE /containers/%ff: 404" 404 "$FFFD" DELETE '/containers/%ff'
expect "DELETE /images/%ff: 400 like Docker" 400 "invalid reference format: \`$FFFD\`" DELETE '/images/%ff'
expect "DELETE /volumes/%ff: 404" 404 "$FFFD" DELETE '/volumes/%ff'
expect "create?name=%ff: 400 naming the rule" 400 "[a-zA-Z0-9][a-zA-Z0-9_.-]" POST '/containers/create?name=%ff' '{"Image":"busybox"}'
expect "rename?name=%ff: 400" 400 "[a-zA-Z0-9][a-zA-Z0-9_.-]" POST '/containers/target/rename?name=caf%e9'
expect "images/create?fromImage=%ff: refused" 400 "$FFFD" POST '/images/create?fromImage=%ff'
expect "images/X/tag?repo=%ff: 400" 400 "" POST '/images/busybox/tag?repo=%ff&tag=x'
expect "images/X/tag?tag=%ff: 400" 400 "" POST '/images/busybox/tag?repo=x&tag=%ff'
expect "filters=%ff: 400" 400 "" GET '/containers/json?filters=%ff'
expect "filters with a raw 0xff in JSON: 400" 400 "" GET '/volumes?filters=\{"name":\["\xff"\]\}'
expect "logs?since=%ff: 400" 400 "since" GET '/containers/target/logs?stdout=1&since=%ff'
expect "stop?t=%ff: 400" 400 "$FFFD" POST '/containers/target/stop?t=%ff'
expect "kill?signal=%ff: 400" 400 "" POST '/containers/target/kill?signal=%ff'
expect "archive HEAD path=/%ff: refused" 404 "$FFFD" HEAD '/containers/target/archive?path=/%ff'
# The JSON bodies: jansson refuses bytes that are not UTF-8, and \u0000.
for f in Image WorkingDir User Hostname StopSignal; do
    expect "create: $f not UTF-8: 400" 400 "malformed JSON" POST /containers/create "{\"Image\":\"busybox\",\"$f\":\"caf\\xe9\"}"
done
expect "create: Cmd not UTF-8: 400" 400 "malformed JSON" POST /containers/create '{"Image":"busybox","Cmd":["echo","\xff"]}'
expect "create: Env not UTF-8: 400" 400 "malformed JSON" POST /containers/create '{"Image":"busybox","Env":["A=\xff"]}'
expect "create: a label key not UTF-8: 400" 400 "malformed JSON" POST /containers/create '{"Image":"busybox","Labels":{"\xff":"v"}}'
expect "create: a label value not UTF-8: 400" 400 "malformed JSON" POST /containers/create '{"Image":"busybox","Labels":{"k":"\xff"}}'
expect "create: Cmd with \\u0000: 400" 400 "malformed JSON" POST /containers/create '{"Image":"busybox","Cmd":["a\\u0000b"]}'
expect "volume create: Name not UTF-8: 400" 400 "malformed JSON" POST /volumes/create '{"Name":"caf\xe9"}'
expect "volume create: a label not UTF-8: 400" 400 "malformed JSON" POST /volumes/create '{"Name":"v1","Labels":{"k":"\xff"}}'
expect "volume create: a name Docker refuses: 400" 400 "invalid volume name" POST /volumes/create '{"Name":"caf\\u00e9"}'
expect "network create: Name not UTF-8: 400" 400 "malformed JSON" POST /networks/create '{"Name":"n\xff"}'
expect "network create: a label not UTF-8: 400" 400 "malformed JSON" POST /networks/create '{"Name":"n1","Labels":{"k":"\xff"}}'
expect "exec create: Cmd not UTF-8: 400" 400 "malformed JSON" POST /containers/target/exec '{"Cmd":["\xff"]}'
# NUL bytes in the URL: refused, never cut short (a%00b must not name `a`)
expect "create?name=ab%00cd: 400" 400 "NUL" POST '/containers/create?name=ab%00cd' '{"Image":"busybox"}'
expect "DELETE /containers/target%00x: 400 (not a delete of target)" 400 "NUL" DELETE '/containers/target%00x'
check_eq "the container survived the request with %00" "200" "$(api GET /containers/target/json >/dev/null; code)"
expect "a NUL in a query value: 400" 400 "NUL" GET '/containers/json?filters=%00'

# the same through the clients (they URL-encode the bytes)
if command -v docker >/dev/null; then
    out=$(timeout 30 docker inspect $'caf\xe9' 2>&1)
    check_contains "docker inspect caf\\xe9: Docker's error, the daemon answers" "$out$(alive)" "Error: No such object: caf"
    out=$(timeout 30 docker rm $'caf\xe9' 2>&1)
    check_contains "docker rm caf\\xe9: No such container" "$out$(alive)" "No such container: caf${FFFD}OK"
else
    skip "docker CLI missing"
fi
out=$(CONTAINER_HOST=unix://$SOCK timeout 30 "$BIN/container" inspect $'caf\xe9' 2>&1)
check_contains "container inspect caf\\xe9: an error, the daemon answers" "$out$(alive)" "caf"
alive >/dev/null || revive

# ---- 2. a volume driver that is not `local`: Docker's 404, no use after free ----
expect "volume create -d foo: 404 like Docker" 404 'plugin "foo" not found' POST /volumes/create '{"Name":"v2","Driver":"foo"}'
expect "the same again: still answered" 404 'plugin "foo" not found' POST /volumes/create '{"Name":"v2","Driver":"foo"}'
expect "volume create: Name 42: 400 naming the field" 400 '`Name`' POST /volumes/create '{"Name":42}'
expect "volume create: Labels a list: 400 naming the field" 400 '`Labels`' POST /volumes/create '{"Name":"v3","Labels":["a"]}'
expect "volume create: a DriverOpts value 1: 400 naming the field" 400 '`DriverOpts`' POST /volumes/create '{"Name":"v3","DriverOpts":{"size":1}}'
if command -v docker >/dev/null; then
    out=$(timeout 30 docker volume create -d foo x 2>&1)
    check_contains "docker volume create -d foo: Docker's message" "$out" 'Error response from daemon: error looking up volume plugin foo: plugin "foo" not found'
else
    skip "docker CLI missing"
fi

# ---- 3. logs?since=bogus twice: no fd closed that was not opened ----
expect "logs?since=bogus: 400" 400 "since" GET '/containers/target/logs?stdout=1&since=bogus'
expect "logs?since=bogus again: 400" 400 "since" GET '/containers/target/logs?stdout=1&since=bogus'
expect "logs?until=bogus: 400" 400 "until" GET '/containers/target/logs?stdout=1&until=bogus'
check_eq "the daemon's fd 0 is still what it was" "$fd0_before" "$(readlink "/proc/$DAEMON_PID/fd/0")"

# ---- 13. types and limits at create ----
expect 'HostConfig.Memory "1g": 400 naming the field' 400 '`HostConfig.Memory`' POST /containers/create '{"Image":"busybox","HostConfig":{"Memory":"1g"}}'
expect "HostConfig.Memory 1.5: 400" 400 '`HostConfig.Memory`' POST /containers/create '{"Image":"busybox","HostConfig":{"Memory":1.5}}'
expect "StopTimeout 99999999999: 400 naming the field" 400 '`StopTimeout`' POST /containers/create '{"Image":"busybox","StopTimeout":99999999999}'
expect 'Image 42: 400 saying what Image must be' 400 'invalid `Image`: a string is expected, not an integer' POST /containers/create '{"Image":42}'
expect 'Tty "yes": 400' 400 '`Tty`' POST /containers/create '{"Image":"busybox","Tty":"yes"}'
expect 'Env a string: 400' 400 '`Env`' POST /containers/create '{"Image":"busybox","Env":"A=1"}'
expect 'Env[1] a number: 400' 400 '`Env[1]`' POST /containers/create '{"Image":"busybox","Env":["A=1",2]}'
expect 'Labels.k a number: 400' 400 '`Labels.k`' POST /containers/create '{"Image":"busybox","Labels":{"k":1}}'
expect 'HostConfig.Binds a string: 400' 400 '`HostConfig.Binds`' POST /containers/create '{"Image":"busybox","HostConfig":{"Binds":"/a:/b"}}'
expect 'HostConfig.RestartPolicy.Name 5: 400' 400 '`HostConfig.RestartPolicy.Name`' POST /containers/create '{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":5}}}'
expect 'Volumes./x 5: 400' 400 '`Volumes./x`' POST /containers/create '{"Image":"busybox","Volumes":{"/x":5}}'
expect 'network create: Name 42: 400 naming the field' 400 'invalid `Name`: a string is expected' POST /networks/create '{"Name":42}'
expect 'network create: Internal "yes": 400' 400 '`Internal`' POST /networks/create '{"Name":"n2","Internal":"yes"}'
expect 'HostConfig.AutoRemove 1: 400' 400 '`HostConfig.AutoRemove`' POST /containers/create '{"Image":"busybox","HostConfig":{"AutoRemove":1}}'
big=$(head -c 100000 /dev/zero | tr '\0' x)
expect "a 100 KB Cmd: 400 at create, naming the limit" 400 "at most" POST /containers/create "{\"Image\":\"busybox\",\"Cmd\":[\"echo\",\"$big\"]}"
expect "a 100 KB Env: 400 at create" 400 "at most" POST /containers/create "{\"Image\":\"busybox\",\"Env\":[\"A=$big\"]}"
expect "a 5000-byte WorkingDir: 400 at create" 400 "" POST /containers/create "{\"Image\":\"busybox\",\"WorkingDir\":\"/${big:0:5000}\"}"
expect "exec create: a 100 KB Cmd: 400" 400 "at most" POST /containers/target/exec "{\"Cmd\":[\"echo\",\"$big\"]}"
expect "exec create: Env a string: 400" 400 '`Env`' POST /containers/target/exec '{"Cmd":["true"],"Env":"A=1"}'
expect "exec create: Tty 1: 400" 400 '`Tty`' POST /containers/target/exec '{"Cmd":["true"],"Tty":1}'
expect "a 15 MB body: 413" 413 "larger than" POST /containers/create @15000000
expect "a 3 MB body: 413" 413 "larger than 2097152 bytes" POST /containers/create @3000000
hc() { curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" "$@"; }
check_eq "a 100 KB URL: 414, the daemon answers" "414 OK" "$(hc "http://d/containers/$big/json") $(alive)"
check_eq "a 100 KB header: 431, the daemon answers" "431 OK" "$(hc -H "X-Big: $big" http://d/_ping) $(alive)"
expect "archive HEAD with a 5000-byte path: 400" 400 "at most" HEAD "/containers/target/archive?path=/${big:0:5000}"
expect "archive GET with a 300-byte name: 400" 400 "at most 255" GET "/containers/target/archive?path=/${big:0:300}"
expect "archive PUT with a 5000-byte path: 400" 400 "at most" PUT "/containers/target/archive?path=/${big:0:5000}" 'x'
expect "archive PUT of something that is not a tar: 400" 400 "invalid or truncated tar archive" PUT "/containers/target/archive?path=/" 'this is not a tar archive, not at all, not a single header of it'
# Docker answers a load 200 at once and puts its failure in the JSON stream
raw POST /images/load 'this is not a tar archive'
check_eq "images/load of something that is not a tar: 200, the error in the stream" "200 true" \
    "$STATUS $(jq '.error != "" and .error == .errorDetail.message' <<<"$REPLY" 2>/dev/null)"
alive >/dev/null || revive

# ---- nothing changed on disk ----
check_eq "the refused requests left the data root as it was" "$before" "$(disk_state)"
check_eq "and the container list" "target" "$(api GET '/containers/json?all=1' | jq -r '.[].Names[0]' | tr -d / | sort | tr '\n' ' ' | sed 's/ $//')"

# ---- 13. an image load into a full disk says why ----
if [ -n "${SMALL_TMP:-}" ]; then
    head -c 1000000 /dev/zero >"$T_TMP/big.tar"
    out=$(curl -s -m 30 --unix-socket "$SOCK" -X POST -H 'Content-Type: application/x-tar' \
        --data-binary @"$T_TMP/big.tar" http://d/images/load)
    check_contains "images/load into a full disk: the reason" "$out" "No space left on device"
    wait_for 5 test -z "$(ls "$DATA/tmp")"
    check_eq "and the partial upload is gone" "" "$(ls "$DATA/tmp")"
else
    skip "cannot mount a small tmpfs (not root?)"
fi

# ---- 11. idle connections: timeout, per-client limit; streams stay up ----
while IFS= read -r line; do
    case $line in
    PASS*) ok "${line#PASS }" ;;
    \#*) echo "$line" ;;
    *) not_ok "${line#FAIL }" ;;
    esac
done < <(timeout 60 python3 "$PY" "$SOCK" idle 256 "$IDLE" 2>&1)
# /events with nothing to say for longer than the idle timeout, then an event
curl -s -N -m $((IDLE * 3 + 10)) --unix-socket "$SOCK" 'http://d/events?filters=%7B%22type%22%3A%5B%22volume%22%2C%22container%22%5D%7D' >"$T_TMP/events.out" 2>&1 &
ev_pid=$!
curl -s -N -m $((IDLE * 3 + 10)) --unix-socket "$SOCK" -X POST 'http://d/containers/target/wait?condition=next-exit' >"$T_TMP/wait.out" 2>&1 &
wait_pid=$!
sleep $((IDLE * 2 + 1))
check "a wait for an exit stays connected past the idle timeout" kill -0 "$wait_pid"
api POST '/containers/target/rename?name=target2' >/dev/null
check_eq "a rename after the idle timeout" "204" "$(code)"
wait_for 5 grep -q '"rename"' "$T_TMP/events.out"
check_contains "/events still streams after the idle timeout" "$(cat "$T_TMP/events.out")" '"Action":"rename"'
kill "$ev_pid" "$wait_pid" 2>/dev/null
wait "$ev_pid" "$wait_pid" 2>/dev/null

# logs -f of a running container past the idle timeout (one small VM), and a stop that
# waits longer than the idle timeout still gets its answer
body=$(api POST '/containers/create?name=slow' '{"Image":"busybox","Cmd":["sh","-c","trap \"\" TERM; echo early; sleep '$((IDLE * 2 + 1))'; echo late; sleep 60"]}')
check_eq "a container that prints late is created" "201" "$(code)"
api POST /containers/slow/start >/dev/null
if [ "$(code)" == 204 ]; then
    ok "it starts"
    curl -s -N -m 60 --unix-socket "$SOCK" 'http://d/containers/slow/logs?stdout=1&follow=1' >"$T_TMP/logs.out" 2>&1 &
    logs_pid=$!
    wait_for 40 grep -q late "$T_TMP/logs.out"
    check_contains "logs -f delivers a line written after the idle timeout" "$(tr -d '\0\1\2' <"$T_TMP/logs.out")" "late"
    t0=$SECONDS
    api POST "/containers/slow/stop?t=$((IDLE + 2))" >/dev/null
    check_eq "a stop that waits longer than the idle timeout gets its 204" "204" "$(code)"
    diag "the stop took $((SECONDS - t0)) s"
    kill "$logs_pid" 2>/dev/null
    wait "$logs_pid" 2>/dev/null
else
    not_ok "it starts: $(code)"
fi

# ---- what real clients send still passes the checks ----
# The docker CLI and the Python SDK fill many fields (nulls, empty strings and maps,
# ulimits, log config, port bindings): type checks and limits must take all of them.
if command -v docker >/dev/null; then
    out=$(timeout 30 docker create --name cli-full -e A=b -l x=y --memory 256m --memory-swap 512m \
        --cpus 0.5 --cpu-shares 512 -w /tmp -u 0:0 --restart no --entrypoint sh --hostname h1 \
        --dns 192.0.2.53 --add-host a:192.0.2.1 -p 127.0.0.1:8080:80 --expose 90 -v /tmp:/mnt:ro \
        --tmpfs /run --read-only --stop-signal SIGINT --stop-timeout 5 --init=false \
        --ulimit nofile=1024:2048 --shm-size 64m --pids-limit 100 -t -i busybox -c 'echo hi' 2>&1)
    check "docker create with many flags is accepted ($out)" test "$(api GET /containers/cli-full/json | jq -r .Name)" = /cli-full
else
    skip "docker CLI missing (apt-get install docker.io)"
fi
if /usr/bin/python3 -c 'import docker' 2>/dev/null; then
    out=$(timeout 60 /usr/bin/python3 - "$SOCK" <<'PY' 2>&1
import sys, docker
c = docker.DockerClient(base_url="unix://" + sys.argv[1])
ct = c.containers.create(
    "busybox", ["-c", "echo hi"], name="sdk-full", environment={"A": "b"}, labels={"x": "y"},
    mem_limit="256m", working_dir="/tmp", user="0", entrypoint=["sh"], hostname="h",
    ports={"80/tcp": ("127.0.0.1", 8081)}, volumes={"/tmp": {"bind": "/mnt", "mode": "ro"}},
    restart_policy={"Name": "no"}, stop_signal="SIGINT", tty=True, stdin_open=True, read_only=True,
    tmpfs={"/run": ""}, cpu_shares=512, nano_cpus=500000000, pids_limit=100, shm_size="64m",
    ulimits=[docker.types.Ulimit(name="nofile", soft=1024, hard=2048)], dns=["192.0.2.53"],
    extra_hosts={"a": "192.0.2.1"}, network_mode="default", healthcheck=None, auto_remove=False,
    log_config=docker.types.LogConfig(type="json-file", config={"max-size": "1m"}),
    init=False, domainname="d")
print(ct.name)
PY
)
    check_eq "the Python SDK's create with many options is accepted" "sdk-full" "$out"
else
    skip "python3-docker missing (apt-get install python3-docker)"
fi
check "the daemon still answers /_ping at the end" alive
if grep -q "AddressSanitizer\|runtime error:" "$T_TMP/daemon.err" 2>/dev/null; then
    not_ok "no sanitizer report from the daemon"
    diag "$(grep -A20 "AddressSanitizer\|runtime error:" "$T_TMP/daemon.err" | head -40)"
else
    ok "no sanitizer report from the daemon"
fi
plan_end
