#!/usr/bin/env bash
# Fault: the host disk fills up under a running container (issue 11, defect 5).
# The data root is a small loop-mounted ext4. A container writes until the host
# filesystem is full: its process gets an I/O error instead of freezing with its VM
# (QEMU's default werror=enospc pauses the VM unseen), exec still answers, inspect
# (State.Error) and logs say the host disk is full; a create below the free-space
# minimum (CONTAINER_MIN_FREE_MB) is refused with a message saying what is free and
# what is needed. One VM.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
command -v mkfs.ext4 >/dev/null || need "mkfs.ext4 missing (apt-get install e2fsprogs)"
[ "$(id -u)" = 0 ] || need "mounting a loop filesystem needs root"

# The data root on a 160 MiB ext4 image (loop-mounted; unmounted at exit, after the
# daemon and its VMs are gone).
truncate -s 160M "$T_TMP/small.img"
mkfs.ext4 -q -F -m 0 "$T_TMP/small.img" || need "mkfs.ext4 failed"
mkdir -p "$T_TMP/data"
mount -o loop "$T_TMP/small.img" "$T_TMP/data" || need "cannot loop-mount an ext4 image"
fault_cleanup() {
    declare -F daemon_cleanup >/dev/null && daemon_cleanup
    umount "$T_TMP/data" 2>/dev/null || umount -l "$T_TMP/data"
}
at_exit fault_cleanup
daemon_fixtures
export CONTAINER_MIN_FREE_MB=24
daemon_start || need "the daemon did not start"

logs() { curl -s -m 10 --unix-socket "$SOCK" "http://d/containers/$1/logs?stdout=1&stderr=1" | tr -d '\000-\010'; }
exec_sh() { # NAME SCRIPT: a hijacked exec of `sh -c SCRIPT`; prints its output
    exec_create "$1" sh -c "$2"
    exec_start "$EXEC_ID"
}
# dd's exit status once it ended (an exec that failed under load is not an answer)
dd_done() { exec_sh f1 'cat /dev/shm/dd-exit 2>/dev/null' | grep -qx '[0-9][0-9]*'; }

free_mb=$(($(stat -f -c '%a * %S' "$T_TMP/data") / 1048576))
diag "free on the small data root: ${free_mb} MiB"
# dd's status goes to /dev/shm (a tmpfs in the guest): on a full host disk the
# container log may take no more lines
script="echo filling; dd if=/dev/zero of=/fill bs=1M count=$((free_mb + 64)) conv=fsync 2>/dev/null; echo \$? >/dev/shm/dd-exit; sleep 600"
api POST "/containers/create?name=f1" "$(jq -cn --arg s "$script" '{Image: "busybox", Cmd: ["sh", "-c", $s]}')" >/dev/null
check_eq "create f1 while there is room" "201" "$(code)"
api POST "/containers/f1/start" >/dev/null
check_eq "start f1" "204" "$(code)"

t0=$SECONDS
wait_for 120 dd_done || diag "no exit status from dd after $((SECONDS - t0)) s:" \
    "$(exec_sh f1 'cat /dev/shm/dd-exit; ls -l /fill' 2>&1 | head -3)"
status=$(exec_sh f1 'cat /dev/shm/dd-exit')
check "the writer got an error instead of freezing ($((SECONDS - t0))s)" grep -qx '[0-9][0-9]*' <<<"$status"
check "dd failed (exit status ${status:-none})" grep -qx '[1-9][0-9]*' <<<"$status"
check_eq "the container still runs" "running" "$(state f1 .State.Status)"
check_eq "exec still answers" "alive" "$(exec_sh f1 'echo alive')"
wait_for 10 sh -c "curl -s --unix-socket '$SOCK' http://d/containers/f1/json | jq -r .State.Error | grep -q 'host disk full'"
err=$(state f1 .State.Error)
check_contains "inspect says the host disk is full" "$err" "host disk full"
check_contains "and names the disk file" "$err" "/disks/rw.ext4"
check_contains "logs say so too" "$(logs f1)" "container: host disk full"

msg=$(api POST "/containers/create?name=f2" '{"Image":"busybox","Cmd":["true"]}' | jq -r .message)
check_eq "create on a full data root is refused" "507" "$(code)"
check_contains "saying what is free" "$msg" "MiB free"
check_contains "and what is needed" "$msg" "24 MiB needed"
check_eq "no container f2" "404" "$(api GET /containers/f2/json >/dev/null; code)"

api POST "/containers/f1/stop?t=1" >/dev/null
check_eq "f1 stops" "204" "$(code)"
api DELETE "/containers/f1" >/dev/null
check_eq "f1 is removed (space back)" "204" "$(code)"
check_eq "the daemon still answers" "OK" "$(curl -s -m 5 --unix-socket "$SOCK" http://d/_ping)"
plan_end
