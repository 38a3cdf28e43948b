#!/usr/bin/env bash
# container-apiserver recovery: the daemon does not hold its containers. SIGKILL
# it with two containers running; restarted, it re-adopts both (still running,
# still controllable). A container whose VM is SIGKILLed shows exited 137 with
# its logs intact; an AutoRemove container that ended while the daemon was down
# is removed when it comes back. Two VMs at most.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
daemon_fixtures
daemon_start || need "the daemon did not start"

check "start r1" create_start r1 '{"Image":"busybox","Cmd":["sh","-c","echo r1 up; sleep 600"]}'
check "start r2 (AutoRemove off)" create_start r2 '{"Image":"busybox","Cmd":["sh","-c","echo r2 up; sleep 600"]}'
check_eq "both run" "running running" "$(state r1 .State.Status) $(state r2 .State.Status)"
shim1=$(state r1 .State.Pid)

kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
check "the shims outlive the daemon's SIGKILL" kill -0 "$shim1"
daemon_start
check_eq "after the restart both are running" "running running" "$(state r1 .State.Status) $(state r2 .State.Status)"
check_eq "and the shim was adopted, not restarted" "$shim1" "$(state r1 .State.Pid)"
check_eq "ps (not -a) lists both" "2" "$(api GET /containers/json | jq length)"
exec_create r1 echo exec-ok
out=$EXEC_ID
got=$(exec_start "$out")
check_eq "exec into an adopted container works" "exec-ok" "$got"
check_eq "its exit code is recorded" "0" "$(api GET "/exec/$out/json" | jq -r .ExitCode)"
curl -s -o /dev/null --unix-socket "$SOCK" -X POST "http://d/containers/r1/stop?t=1"
check_eq "an adopted container stops (watched after the restart)" "exited" "$(state r1 .State.Status)"
check_contains "and its logs are there" "$(curl -s --unix-socket "$SOCK" "http://d/containers/r1/logs?stdout=1" | tail -c +9)" "r1 up"

# SIGKILL the VM of r2
vmm=$(jq -r .vmm_pid "$DATA/containers/$(state r2 .Id)/state.json")
check "r2's QEMU is alive (pid $vmm)" kill -0 "$vmm"
kill -9 "$vmm"
wait_for 20 sh -c "curl -s --unix-socket '$SOCK' http://d/containers/r2/json | jq -e '.State.Status == \"exited\"'"
check_eq "a killed VM: exited 137" "exited 137" "$(state r2 .State.Status) $(state r2 .State.ExitCode)"
check_contains "the reason names the VM" "$(state r2 .State.Error)" "killed by signal 9"
check_contains "its logs are intact" "$(curl -s --unix-socket "$SOCK" "http://d/containers/r2/logs?stdout=1" | tail -c +9)" "r2 up"

# --rm whose exit happens while the daemon is down
check "start r3 with AutoRemove" create_start r3 '{"Image":"busybox","Cmd":["sh","-c","sleep 3"],"HostConfig":{"AutoRemove":true}}'
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
r3dir=$(ls -d "$DATA"/containers/*/ | while read -r b; do grep -q '"r3"' "$b/daemon.json" && echo "$b"; done)
wait_for 30 sh -c "jq -e '.status == \"stopped\"' '$r3dir/state.json'"
check_eq "r3 ended while the daemon was down" "stopped" "$(jq -r .status "$r3dir/state.json")"
daemon_start
wait_for 10 sh -c "! test -d '$r3dir'"
check "r3 (AutoRemove) is removed once the daemon is back" test ! -d "$r3dir"
check_eq "r1 and r2 are still listed, exited" "exited exited" "$(state r1 .State.Status) $(state r2 .State.Status)"

# a second daemon on the same run root is refused
out=$(in_ns "$DAEMON" --root "$DATA" --run-root "$RUN" --log-file - 2>&1)
check_contains "a second daemon is refused, naming the first" "$out" "another container-apiserver (pid $DAEMON_PID)"
plan_end
