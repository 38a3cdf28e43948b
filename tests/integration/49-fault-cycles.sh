#!/usr/bin/env bash
# Faults and cycles (issue 11): no fd of the shell that ran `system start` lives on in
# the daemon, a shim or a VM (a pipe's reader gets EOF at once); arguments that are not
# UTF-8 reach the container as U+FFFD, none dropped or shifted; a tar cut in the middle
# of a file is refused and leaves nothing behind (both copyUIDGID paths); 50 system
# stop → start in a row; 200 parallel unnamed creates get 200 distinct names; a
# container whose record is corrupt is listed dead and removable (rm, prune); the
# daemon log rotates at CONTAINER_LOG_MAX_SIZE. One VM (256 MiB), TCG.
source "$(dirname "$0")/../lib.sh"
plan_start
source "$(dirname "$0")/45-cli-lib.bash"
cli_fixtures
command -v curl >/dev/null || need "curl missing (apt-get install curl)"
sock=$run/container.sock
start_args=(--root "$root" --run-root "$run" --kernel "$kernel" --initrd "$initrd")
# small, so that the cycles below rotate it a few times
export CONTAINER_LOG_MAX_SIZE=16k

# ---- fds of the caller (defect 9) ----
# fd 7: the write end of a pipe whose reader notes when it sees EOF
exec 7> >(cat >/dev/null; date +%s.%N >"$T_TMP/eof")
pipe=$(readlink /proc/$$/fd/7)
cli_system_start "system start (with fd 7 open on a pipe)" "${start_args[@]}"
ctr image load -i "$T_TMP/busybox.tar"
check_eq "image load" 0 "$rc"
ctr run -d --name fdc -m 256M busybox sleep 600
check_eq "a detached container runs" 0 "$rc"
dpid=$(cat "$run/container-apiserver.pid")
cid=$("$C" inspect fdc | jq -r '.[0].Id')
spid=$("$C" inspect fdc | jq -r '.[0].State.Pid')
qpid=$(jq -r .vmm_pid "$root/containers/$cid/state.json")
holders() { # PID: the fds of PID on the caller's pipe
    local f
    for f in /proc/"$1"/fd/*; do
        [ "$(readlink "$f" 2>/dev/null)" = "$pipe" ] && echo "$f"
    done
}
fds_of() { ls /proc/"$1"/fd 2>/dev/null | sort -n | tr '\n' ' '; }
check_eq "the daemon (pid $dpid) holds no fd of its caller" "" "$(holders "$dpid")"
check_eq "the shim (pid $spid) holds none" "" "$(holders "$spid")"
check_eq "QEMU (pid $qpid) holds none" "" "$(holders "$qpid")"
[ -n "$(holders "$dpid")$(holders "$spid")$(holders "$qpid")" ] &&
    diag "daemon fds: $(fds_of "$dpid")" "shim fds: $(fds_of "$spid")" "qemu fds: $(fds_of "$qpid")"
closed=$(date +%s.%N)
exec 7>&-
wait_for 5 test -s "$T_TMP/eof"
check "the pipe's reader gets EOF while daemon and container run" test -s "$T_TMP/eof"
[ -s "$T_TMP/eof" ] && diag "EOF $(echo "$(cat "$T_TMP/eof") - $closed" | bc 2>/dev/null) s after the close"

# ---- arguments that are not UTF-8 (defect 8) ----
ctr exec fdc sh -c 'echo "$0|$1|$2"' $'X\xff' b c
check_eq "exec: a non-UTF-8 argument arrives as U+FFFD, the others in place" $'X\xef\xbf\xbd|b|c' "$out"
ctr exec -e $'V=\xfe' fdc sh -c 'echo "$V"'
check_eq "exec -e: a non-UTF-8 value arrives as U+FFFD" $'\xef\xbf\xbd' "$out"

# ---- a tar cut in the middle of a file (defect 4) ----
mkdir -p "$T_TMP/up"
echo complete >"$T_TMP/up/whole"
head -c 300000 /dev/urandom >"$T_TMP/up/cut"
tar -C "$T_TMP/up" -cf "$T_TMP/full.tar" whole cut
head -c 150000 "$T_TMP/full.tar" >"$T_TMP/truncated.tar"
put() { # QUERY TARFILE: the HTTP status
    curl -s -o "$T_TMP/put.out" -w '%{http_code}' --unix-socket "$sock" -X PUT \
        -H 'Content-Type: application/x-tar' --data-binary @"$2" "http://d/containers/fdc/archive?$1"
}
exists() { # PATH in fdc: 200 or 404
    curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -I "http://d/containers/fdc/archive?path=$1"
}
for q in "" "copyUIDGID=1"; do
    ctr exec fdc mkdir -p "/up$q"
    dst="/up${q}"
    code=$(put "path=$dst${q:+&$q}" "$T_TMP/truncated.tar")
    check_eq "PUT archive ${q:-(chown to root)} of a truncated tar: 400" 400 "$code"
    check_contains "the reply says the tar is cut" "$(cat "$T_TMP/put.out")" "runcated"
    check_eq "the cut file is not left behind ${q:+($q)}" 404 "$(exists "$dst/cut")"
    code=$(put "path=$dst${q:+&$q}" "$T_TMP/full.tar")
    check_eq "the whole tar then goes in ${q:+($q)}" 200 "$code"
    ctr exec fdc sh -c "wc -c < $dst/cut"
    check_eq "with every byte ${q:+($q)}" 300000 "$out"
done

ctr rm -f fdc
check_eq "rm -f the container" 0 "$rc"

# ---- 50 stop → start in a row (defect 6) ----
fails=0
for i in $(seq 50); do
    ctr system stop
    [ "$rc" -eq 0 ] || { fails=$((fails + 1)); diag "stop $i: $err"; continue; }
    ctr system start "${start_args[@]}"
    [ "$rc" -eq 0 ] || { fails=$((fails + 1)); diag "start $i: $err"; ctr system start "${start_args[@]}"; }
done
check_eq "50 system stop → start in a row all succeed" 0 "$fails"
check "the daemon answers after them" "$C" system status

# ---- 200 parallel unnamed creates (defect 7) ----
create_one() {
    curl -s -o /dev/null -w '%{http_code}\n' --unix-socket "$sock" -X POST \
        -H 'Content-Type: application/json' -d '{"Image":"busybox","Cmd":["true"]}' \
        http://d/containers/create
}
export -f create_one
export sock
# 64 at a time: enough creates in flight that a generated name can hit one still
# being created (before the fix: 1-2 of 200 got 409)
seq 200 | xargs -P "${CTR_CREATE_PARALLEL:-64}" -I{} bash -c create_one >"$T_TMP/codes"
check_eq "200 parallel creates without a name: all 201" "200" "$(grep -c '^201$' "$T_TMP/codes")"
grep -v '^201$' "$T_TMP/codes" | sort | uniq -c | sed 's/^/# /'
names=$(curl -s --unix-socket "$sock" 'http://d/containers/json?all=1' | jq -r '.[].Names[0]')
check_eq "200 containers" 200 "$(wc -l <<<"$names")"
check_eq "with 200 distinct names" 200 "$(sort -u <<<"$names" | wc -l)"
check_eq "each adjective_surname" 200 "$(grep -cE '^/[a-z]+_[a-z]+[0-9]?$' <<<"$names")"
ctr prune
check_eq "prune removes them" 0 "$(curl -s --unix-socket "$sock" 'http://d/containers/json?all=1' | jq length)"

# ---- a corrupt record (defect 14) ----
ctr create --name broken1 busybox true
id1=$out
ctr create --name broken2 busybox true
id2=$out
ctr system stop
# JSON with fields missing and of the wrong type; then bytes that are not JSON at all
printf '{"Id": "%s", "Name": "broken1", "Created": "yesterday"}' "$id1" >"$root/containers/$id1/daemon.json"
printf '\0\1garbage' >"$root/containers/$id2/daemon.json"
ctr system start "${start_args[@]}"
check_eq "the daemon starts with corrupt records" 0 "$rc"
ctr ls -a --format json
check_eq "ls -a lists the first as dead, by its name" dead "$(jq -r '.[] | select(.name == "broken1") | .state' <<<"$out")"
check_eq "and the second, under a name of its own" dead "$(jq -r --arg n "broken_${id2:0:12}" '.[] | select(.name == $n) | .state' <<<"$out")"
ctr inspect broken1
check_contains "inspect says why" "$(jq -r '.[0].State.Error' <<<"$out")" "corrupt record"
check_eq "State.Dead" true "$(jq -r '.[0].State.Dead' <<<"$out")"
ctr start broken1
check "it cannot be started" test "$rc" -ne 0
ctr rm broken1
check_eq "rm removes it" 0 "$rc"
check "and its directory (disks included)" test ! -e "$root/containers/$id1"
ctr prune
check "prune removes the other one" test ! -e "$root/containers/$id2"
ctr ls -a -q
check_eq "nothing is left" "" "$out"

# ---- log rotation (defect 14) ----
log=$root/apiserver.log
check "apiserver.log was rotated (apiserver.log.1)" test -s "$log.1"
check "two old files are kept" test -s "$log.2"
check "no more" test ! -e "$log.3"
size=$(stat -c %s "$log")
check "the current file stays under its limit ($size bytes)" test "$size" -lt $((16 * 1024 + 4096))
ctr system logs -n 3
check_eq "system logs reads the current file" 0 "$rc"
check_contains "with the latest lines" "$out" "container-apiserver"

plan_end
