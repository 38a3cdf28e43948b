#!/usr/bin/env bash
# pause and unpause: the shim stops and continues the VM's vCPUs (docs/runtime.md,
# "Control socket"), shown as docker shows a paused container; driven with the docker
# CLI and curl. One container (plus one for the stop of a paused container).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
need_docker_cli
daemon_fixtures
daemon_start || need "the daemon did not start"

logn() { docker logs p1 2>/dev/null | wc -l; }
grows() { [ "$(logn)" -gt "$1" ]; }

# the pause and unpause events, seen by a `docker events` started before them
docker events --filter container=p1 --format '{{.Action}}' >"$T_TMP/events" 2>&1 &
events_pid=$!
at_exit "kill $events_pid 2>/dev/null"

# ---- errors before any pause ----
id0=$(api POST /containers/create?name=p0 '{"Image":"busybox","Cmd":["true"]}' | jq -r .Id)
body=$(api POST /containers/p0/pause)
check_eq "pause of a created container: 409 not running" \
    "409 Container $id0 is not running" "$(code) $(jq -r .message <<<"$body")"
body=$(api POST /containers/p0/unpause)
check_eq "unpause of a created container: 409 not paused" \
    "409 Container $id0 is not paused" "$(code) $(jq -r .message <<<"$body")"
body=$(api POST /containers/nope/pause)
check_eq "pause of an unknown container: 404" "404 No such container: nope" "$(code) $(jq -r .message <<<"$body")"
docker rm p0 >/dev/null

# ---- a container that appends a counter to its log every 0.2 s ----
id=$(timeout 120 docker run -d --name p1 busybox sh -c 'i=0; while true; do echo n$i; i=$((i+1)); sleep 0.2; done')
check_eq "docker run -d" "64" "${#id}"
wait_for 30 grows 3
check_eq "it logs" "0" "$?"
body=$(api POST /containers/p1/unpause)
check_eq "unpause of a running container: 409 not paused" "409 Container $id is not paused" \
    "$(code) $(jq -r .message <<<"$body")"

exec_create p1 echo late # created while running, started while paused
out=$(docker pause p1 2>&1)
check_eq "docker pause" "p1 0" "$out $?"
check_eq "inspect: State.Paused, Status paused, still Running" "true paused true" \
    "$(docker inspect -f '{{.State.Paused}} {{.State.Status}} {{.State.Running}}' p1)"
check_contains "docker ps says (Paused)" "$(docker ps --filter name=p1)" "(Paused)"
check_eq "the paused filter lists it" "p1" "$(docker ps --filter status=paused --format '{{.Names}}')"
check_eq "the running filter does not" "" "$(docker ps --filter status=running --format '{{.Names}}')"
check_eq "info counts it paused" "1 0" "$(docker info -f '{{.ContainersPaused}} {{.ContainersRunning}}')"
check_eq "the shim's state.json says paused" "true" "$(jq -r .paused "$DATA/containers/$id/state.json")"
n0=$(logn)
sleep 2
n1=$(logn)
check_eq "the log does not grow while paused (2 s)" "$n0" "$n1"
body=$(api POST /containers/p1/pause)
check_eq "pause of a paused container: 409 already paused" "409 Container $id is already paused" \
    "$(code) $(jq -r .message <<<"$body")"
out=$(docker exec p1 echo hi 2>&1)
rc=$?
check_contains "docker exec is refused" "$rc $out" "Container p1 is paused, unpause the container before exec"
body=$(api POST /containers/p1/exec '{"Cmd":["true"]}')
check_eq "exec create: 409" "409 Container p1 is paused, unpause the container before exec" \
    "$(code) $(jq -r .message <<<"$body")"
body=$(api POST "/exec/$EXEC_ID/start" '{"Detach":true}')
check_eq "exec start of an exec created before the pause: 409 naming the id" \
    "409 Container $id is paused, unpause the container before exec" "$(code) $(jq -r .message <<<"$body")"

# ---- the paused state survives a daemon restart (read back from the shim) ----
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
daemon_start || need "the daemon did not restart"
check_eq "after a daemon restart it is still paused" "true paused" \
    "$(docker inspect -f '{{.State.Paused}} {{.State.Status}}' p1)"
docker events --since 0 --filter container=p1 --format '{{.Action}}' >"$T_TMP/events2" 2>&1 &
events_pid=$!
at_exit "kill $events_pid 2>/dev/null"

out=$(docker unpause p1 2>&1)
check_eq "docker unpause" "p1 0" "$out $?"
check_eq "inspect: running again" "false running" "$(docker inspect -f '{{.State.Paused}} {{.State.Status}}' p1)"
check_eq "the shim's state.json: not paused" "null" "$(jq -r .paused "$DATA/containers/$id/state.json")"
wait_for 10 grows "$((n1 + 3))"
check_eq "the log grows again" "0" "$?"
check_eq "the counter went on where it stopped (nothing lost or doubled)" "" \
    "$(docker logs p1 | awk -v p=-1 '{ sub(/^n/, ""); if ($0 != p + 1) print "gap at " $0; p = $0 }' | head -3)"
out=$(docker exec p1 echo hi 2>&1)
check_eq "docker exec works again" "hi 0" "$out $?"
guest=$(docker exec p1 date +%s) host=$(date +%s)
check_eq "the guest's clock was set after the pause (it stood still for 3 s or more)" "yes" \
    "$([ $((host - guest)) -le 1 ] && [ $((guest - host)) -le 1 ] && echo yes || echo "no: guest $guest host $host")"
check_eq "the first daemon's events: start, pause" "start pause" \
    "$(grep -E '^(start|pause|unpause)$' "$T_TMP/events" | tr '\n' ' ' | sed 's/ $//')"
wait_for 5 grep -qx unpause "$T_TMP/events2"
check_eq "the restarted daemon's events: unpause" "0" "$?"

# ---- stop and kill of a paused container work (the VM is resumed first) ----
docker pause p1 >/dev/null
start=$SECONDS
out=$(timeout 60 docker stop -t 1 p1 2>&1)
check_eq "docker stop of a paused container" "p1 0" "$out $?"
check_eq "  within its timeout, not the hung-shim path" "yes" "$([ $((SECONDS - start)) -lt 10 ] && echo yes || echo "no: $((SECONDS - start)) s")"
check_eq "  it exited, no longer paused" "exited false" "$(docker inspect -f '{{.State.Status}} {{.State.Paused}}' p1)"
wait_for 5 sh -c "grep -q '^unpause' '$T_TMP/events2' && grep -c '^unpause' '$T_TMP/events2' | grep -qx 2"
check_eq "  events: its stop logs unpause (as docker's kill does)" "0" "$?"
check_eq "  then die and stop" "kill unpause die stop" \
    "$(grep -E '^(kill|unpause|die|stop)$' "$T_TMP/events2" | tail -4 | tr '\n' ' ' | sed 's/ $//')"
body=$(api POST /containers/p1/pause)
check_eq "pause of an exited container: 409 not running" "409 Container $id is not running" \
    "$(code) $(jq -r .message <<<"$body")"

docker start p1 >/dev/null
check_eq "a restarted container is not paused" "false running" "$(docker inspect -f '{{.State.Paused}} {{.State.Status}}' p1)"

# ---- the project's CLI: container pause / unpause ----
ctrcli() { CONTAINER_HOST=unix://$SOCK "$BIN/container" "$@"; }
out=$(ctrcli pause p1 2>&1)
check_eq "container pause prints the name" "p1 0" "$out $?"
check_eq "  it is paused" "true" "$(docker inspect -f '{{.State.Paused}}' p1)"
out=$(ctrcli pause p1 2>&1)
check_eq "container pause of a paused one fails with docker's words" \
    "container: pause \`p1\`: Container $id is already paused 1" "$out $?"
out=$(ctrcli unpause p1 2>&1)
check_eq "container unpause" "p1 0 false" "$out $? $(docker inspect -f '{{.State.Paused}}' p1)"
out=$(ctrcli unpause p1 2>&1)
check_contains "container unpause of a running one fails" "$out $?" "is not paused 1"
check_contains "container pause --help lists -a" "$(ctrcli pause --help)" "--all"

# ---- the Python Docker SDK ----
out=$(/usr/bin/python3 - 2>&1 <<'PY'
import docker
c = docker.from_env().containers.get("p1")
c.pause(); c.reload(); a = c.status
c.unpause(); c.reload(); print(a, c.status)
PY
)
check_eq "python docker: pause, unpause (status paused, then running)" "paused running" "$out"

docker pause p1 >/dev/null
out=$(timeout 60 docker kill p1 2>&1)
check_eq "docker kill of a paused container" "p1 0" "$out $?"
check_eq "  it exited (137)" "exited 137 false" "$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.Paused}}' p1)"
check_eq "docker rm" "p1" "$(docker rm p1)"
check_eq "the daemon logged no lock order violation" "" "$(grep 'lock order violated' "$T_TMP/daemon.log")"
plan_end
