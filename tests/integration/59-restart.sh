#!/usr/bin/env bash
# Restart policies (HostConfig.RestartPolicy) as Docker has them, driven with the docker
# CLI and curl: dockerd's 400s for bad policies; `on-failure:2` restarts a failing
# container twice, then leaves it exited with RestartCount 2 (events die/start, no
# `restart`); `always` brings a container whose QEMU was killed back, with the back-off
# of moby's restartmanager (100 ms, then 200 ms); `docker stop` ends the restarts; a
# daemon SIGKILLed and started again starts the stopped `always` container but not the
# stopped `unless-stopped` one; a failing container is seen `restarting` during its
# back-off and a docker stop then cancels the restart; `docker update --restart` (and the Python SDK's update)
# changes the policy. Two VMs at a time at most.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
need_docker_cli
daemon_fixtures
daemon_start || need "the daemon did not start"

# ---- dockerd's checks (no VM) ----
bad() { # DESC STATUS MESSAGE HOSTCONFIG
    local out
    out=$(api POST /containers/create "{\"Image\":\"busybox\",\"HostConfig\":$4}")
    check_eq "$1: status" "$2" "$(code)"
    check_contains "$1: message" "$out" "$3"
}
bad "always with a retry count" 400 "maximum retry count cannot be used with restart policy 'always'" \
    '{"RestartPolicy":{"Name":"always","MaximumRetryCount":2}}'
bad "a negative retry count" 400 "maximum retry count cannot be negative" \
    '{"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":-1}}'
bad "an unknown policy" 400 "invalid restart policy 'sometimes'" '{"RestartPolicy":{"Name":"sometimes"}}'
bad "AutoRemove with a policy" 400 "can't create 'AutoRemove' container with restart policy" \
    '{"AutoRemove":true,"RestartPolicy":{"Name":"unless-stopped"}}'
out=$(docker create --restart on-failure:3 --name created busybox true 2>&1)
check_eq "docker create --restart on-failure:3" 0 "$?"
check_eq "inspect shows the policy" "on-failure 3 0" \
    "$(state created '"\(.HostConfig.RestartPolicy.Name) \(.HostConfig.RestartPolicy.MaximumRetryCount) \(.RestartCount)"')"

# ---- on-failure:2: two restarts of a failing container, then it stays exited ----
t0=$(date +%s)
check "docker run --restart on-failure:2 (exits 1)" docker run -d --restart on-failure:2 --name of busybox sh -c 'echo ran; exit 1'
of_done() { [ "$(state of '"\(.State.Status) \(.RestartCount)"')" = "exited 2" ]; }
wait_for 120 of_done
sleep 2 # a third restart would be scheduled within 400 ms
check_eq "after two restarts: exited 1, RestartCount 2, not restarting" "exited 1 2 false" \
    "$(state of '"\(.State.Status) \(.State.ExitCode) \(.RestartCount) \(.State.Restarting)"')"
check_eq "it ran three times (logs)" 3 "$(docker logs of 2>&1 | grep -c ran)"
evs=$(curl -s --unix-socket "$SOCK" "http://d/events?since=$t0&until=$(date +%s)&filters=%7B%22container%22%3A%5B%22of%22%5D%7D" |
    jq -r .Action | tr '\n' ' ')
check_eq "events: die then start at each restart, no restart event" "create start die start die start die " "$evs"

# ---- always: a killed VM comes back, with the back-off ----
check "docker run --restart always" docker run -d --restart always --name al busybox sleep 600
al_id=$(state al .Id)
kill_vm() { # NAME: SIGKILL the QEMU of the container
    local id vmm
    id=$(state "$1" .Id)
    vmm=$(jq -r .vmm_pid "$DATA/containers/$id/state.json")
    [ "$vmm" -gt 0 ] && kill -9 "$vmm"
}
al_is() { [ "$(state al '"\(.State.Status) \(.RestartCount)"')" = "$1" ]; }
check "kill al's QEMU (1)" kill_vm al
wait_for 90 al_is "running 1"
check_eq "al runs again, RestartCount 1" "running 1" "$(state al '"\(.State.Status) \(.RestartCount)"')"
check "kill al's QEMU (2)" kill_vm al
wait_for 90 al_is "running 2"
check_eq "al runs again, RestartCount 2" "running 2" "$(state al '"\(.State.Status) \(.RestartCount)"')"
check_contains "the first restart waited 100 ms" "$(cat "$T_TMP/daemon.log")" "container ${al_id:0:12}: restart policy \`always\`: restart 1 in 100 ms"
check_contains "the second one 200 ms (doubled: al ran less than 10 s)" "$(cat "$T_TMP/daemon.log")" "container ${al_id:0:12}: restart policy \`always\`: restart 2 in 200 ms"

# ---- docker stop ends the restarts ----
check "docker stop al" docker stop -t 1 al
sleep 2
check_eq "a stopped always container stays exited" "exited 2 false" \
    "$(state al '"\(.State.Status) \(.RestartCount) \(.State.Restarting)"')"

# ---- unless-stopped, stopped by the user ----
check "docker run --restart unless-stopped" docker run -d --restart unless-stopped --name us busybox sleep 600
check "docker stop us" docker stop -t 1 us
check_eq "us is exited" "exited" "$(state us .State.Status)"

# ---- the daemon SIGKILLed and started again ----
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
daemon_start
wait_for 90 al_is "running 2"
check_eq "a daemon restart starts the stopped always container" "running" "$(state al .State.Status)"
check_eq "but not the stopped unless-stopped one" "exited" "$(state us .State.Status)"
check_eq "nor the on-failure one that used its retries" "exited 2" "$(state of '"\(.State.Status) \(.RestartCount)"')"
check_eq "nor one never started" "created" "$(state created .State.Status)"

# ---- docker update --restart ----
check "docker update --restart always us" docker update --restart always us
check_eq "inspect shows the new policy" "always 0" \
    "$(state us '"\(.HostConfig.RestartPolicy.Name) \(.HostConfig.RestartPolicy.MaximumRetryCount)"')"
out=$(api POST /containers/us/update '{"RestartPolicy":{"Name":"always","MaximumRetryCount":1}}')
check_eq "update: dockerd's checks (400)" "400 maximum retry count cannot be used with restart policy 'always'" \
    "$(code) $(jq -r .message <<<"$out")"
out=$(api POST /containers/us/update '{"BlkioWeight":300,"RestartPolicy":{"Name":"no"}}')
check_eq "update of a field a VM cannot apply: 400" 400 "$(code)"
check_contains "naming it" "$out" 'BlkioWeight'
check_eq "and nothing changed" "always" "$(state us .HostConfig.RestartPolicy.Name)"
out=$(api POST /containers/nosuch/update '{"RestartPolicy":{"Name":"always"}}')
check_eq "update of no container: 404" 404 "$(code)"

# ---- the back-off seen from outside: a container that keeps failing is caught
# restarting (after 5 restarts the next wait is 3.2 s), and docker stop cancels that ----
check "docker run --restart always (exits 3 after 1 s)" docker run -d --restart always --name rs busybox sh -c 'sleep 1; exit 3'
rs_count() { [ "$(state rs .RestartCount)" -ge "$1" ] && [ "$(state rs .State.Status)" = running ]; }
wait_for 120 rs_count 5
rs_restarting() { [ "$(state rs .State.Status)" = restarting ]; }
wait_for 30 rs_restarting
check_eq "caught restarting: Running and Restarting, no Pid, its last exit code" "restarting true true 0 3" \
    "$(state rs '"\(.State.Status) \(.State.Running) \(.State.Restarting) \(.State.Pid) \(.State.ExitCode)"')"
check_contains "docker ps lists it as restarting" \
    "$(docker ps --filter status=restarting --format '{{.Names}} {{.Status}}')" "rs Restarting (3)"
n=$(state rs .RestartCount)
check "docker stop on a restarting container" docker stop -t 1 rs
sleep 4
check_eq "the pending restart was cancelled: exited, RestartCount unchanged" "exited false $n" \
    "$(state rs '"\(.State.Status) \(.State.Restarting) \(.RestartCount)"')"

# ---- the Python SDK (docker 5.0.3): restart_policy at create, container.update ----
if /usr/bin/python3 -c 'import docker' 2>/dev/null; then
    out=$(/usr/bin/python3 - "$SOCK" <<'PY' 2>&1
import sys, docker
c = docker.DockerClient(base_url="unix://" + sys.argv[1])
x = c.containers.create("busybox", "true", name="py",
                        restart_policy={"Name": "on-failure", "MaximumRetryCount": 5})
x.reload()
a = x.attrs["HostConfig"]["RestartPolicy"]
x.update(restart_policy={"Name": "unless-stopped"})
x.reload()
b = x.attrs["HostConfig"]["RestartPolicy"]
try:
    x.update(blkio_weight=300)
    e = "accepted"
except docker.errors.APIError as err:
    e = "%d" % err.status_code
x.remove()
print("%s:%d %s:%d %s" % (a["Name"], a["MaximumRetryCount"], b["Name"], b["MaximumRetryCount"], e))
PY
)
    check_eq "python: create with restart_policy, update it, a blkio update refused" \
        "on-failure:5 unless-stopped:0 400" "$out"
else
    skip "python3-docker missing (apt-get install python3-docker)"
fi
check "docker rm -f al us of created rs" docker rm -f al us of created rs
plan_end
