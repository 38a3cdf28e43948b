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

# ---- nothing changed on disk ----
check_eq "the refused requests left the data root as it was" "$before" "$(disk_state)"
check_eq "and the container list" "target" "$(api GET '/containers/json?all=1' | jq -r '.[].Names[0]' | tr -d / | sort | tr '\n' ' ' | sed 's/ $//')"

check "the daemon still answers /_ping at the end" alive
if grep -q "AddressSanitizer\|runtime error:" "$T_TMP/daemon.err" 2>/dev/null; then
    not_ok "no sanitizer report from the daemon"
    diag "$(grep -A20 "AddressSanitizer\|runtime error:" "$T_TMP/daemon.err" | head -40)"
else
    ok "no sanitizer report from the daemon"
fi
plan_end
