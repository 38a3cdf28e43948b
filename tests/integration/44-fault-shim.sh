#!/usr/bin/env bash
# Faults between the daemon, the shim and QEMU (issue 11, defects 10 and 12).
# A hung shim (SIGSTOP): exec and stop return within bounded time (every control
# exchange with a shim has a deadline, CONTAINER_SHIM_TIMEOUT), stop kills the shim
# and its QEMU, the container is exited 137 with a reason naming the shim, and the
# daemon still answers. Then a QEMU that fails at start (a wrapper adding a bad
# -device through CONTAINER_QEMU): its stderr text is in the API error and State.Error,
# not cut at `qemu stderr:`. One VM.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
daemon_fixtures
export CONTAINER_SHIM_TIMEOUT=3
daemon_start || need "the daemon did not start"

check "start h1" create_start h1 '{"Image":"busybox","Cmd":["sh","-c","echo h1 up; sleep 600"]}'
id=$(state h1 .Id)
shim=$(state h1 .State.Pid)
vmm=$(jq -r .vmm_pid "$DATA/containers/$id/state.json")
check "shim (pid $shim) and qemu (pid $vmm) run" kill -0 "$shim" "$vmm"
exec_create h1 echo fine
check_eq "exec answers while the shim is well" "fine" "$(exec_start "$EXEC_ID")"

# leftovers (a run without the fix): the stopped shim and its QEMU, still ours
shim_leftovers() {
    local p
    for p in "$shim" "$vmm"; do
        grep -qa "$id" "/proc/$p/cmdline" 2>/dev/null && { kill -CONT "$p"; kill -KILL "$p"; }
    done
    return 0
}
at_exit shim_leftovers
kill -STOP "$shim"
t0=$SECONDS
exec_create h1 echo never
out=$(exec_start "$EXEC_ID")
took=$((SECONDS - t0))
check "exec on a hung shim returns within bounded time (${took}s)" test "$took" -le 20
check_contains "and says the shim did not answer" "$out" "did not answer"
check_eq "the exec's exit code is 126" "126" "$(api GET "/exec/$EXEC_ID/json" | jq -r .ExitCode)"
check_eq "the daemon still answers" "OK" "$(curl -s -m 5 --unix-socket "$SOCK" http://d/_ping)"

t0=$SECONDS
st=$(curl -s -m 60 -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X POST "http://d/containers/h1/stop?t=1")
took=$((SECONDS - t0))
check_eq "stop of a hung shim succeeds" "204" "$st"
check "within bounded time (${took}s)" test "$took" -le 30
wait_for 10 sh -c "! kill -0 $shim 2>/dev/null"
check "the shim is gone" sh -c "! kill -0 $shim 2>/dev/null"
wait_for 10 sh -c "! kill -0 $vmm 2>/dev/null"
check "its qemu is gone" sh -c "! kill -0 $vmm 2>/dev/null"
check_eq "the container exited 137" "exited 137" "$(state h1 .State.Status) $(state h1 .State.ExitCode)"
err=$(state h1 .State.Error)
check_contains "State.Error names the unresponsive shim" "$err" "the shim (pid $shim) was unresponsive"
check_eq "the daemon still answers after" "OK" "$(curl -s -m 5 --unix-socket "$SOCK" http://d/_ping)"
check_eq "the container is removed" "204" \
    "$(curl -s -m 30 -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X DELETE http://d/containers/h1)"

# ---- QEMU fails at start: its stderr reaches the API error and State.Error ----
kill "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
cat >"$T_TMP/bad-qemu" <<'EOF'
#!/bin/sh
exec qemu-system-x86_64 "$@" -device no-such-device-x
EOF
chmod +x "$T_TMP/bad-qemu"
export CONTAINER_QEMU=$T_TMP/bad-qemu CONTAINER_WARM_START=0
daemon_start || need "the daemon did not restart"
api POST "/containers/create?name=q1" '{"Image":"busybox","Cmd":["true"]}' >/dev/null
check_eq "create q1" "201" "$(code)"
msg=$(api POST "/containers/q1/start" | jq -r .message)
check_eq "start fails" "500" "$(code)"
check_contains "the API error has QEMU's own words" "$msg" "no-such-device-x"
check_contains "and says it is QEMU's stderr" "$msg" "qemu stderr"
check_contains "State.Error has them too" "$(state q1 .State.Error)" "no-such-device-x"
check_eq "the daemon still answers" "OK" "$(curl -s -m 5 --unix-socket "$SOCK" http://d/_ping)"
plan_end
