#!/usr/bin/env bash
# container-runtime end to end: bundles run in real microVMs (TCG here).
# Bundles are written by hand (config.json) around the busybox image unpacked
# to ext4 and a sparse writable disk; one VM at a time (two at most).
source "$(dirname "$0")/../lib.sh"
plan_start

source "$(dirname "$0")/30-runtime-lib.bash"
runtime_fixtures

# ---- fixtures: image disk, bundles ----
image=$T_TMP/image.ext4
manifest=$(jq -r '.manifests[0].digest' "$T_TMP/oci/index.json")
layer=$(jq -r '.layers[0].digest' "$T_TMP/oci/blobs/sha256/${manifest#sha256:}")
layer_blob=$T_TMP/oci/blobs/sha256/${layer#sha256:}
if [ -x "$BIN/container-unpack" ]; then
    "$BIN/container-unpack" -o "$image" "$layer_blob:application/vnd.oci.image.layer.v1.tar+gzip" \
        >"$T_TMP/unpack.log" 2>&1 || need "unpack of the busybox layer failed: $(tail -3 "$T_TMP/unpack.log")"
else
    mkdir "$T_TMP/rootfs" && tar -xzf "$layer_blob" -C "$T_TMP/rootfs" &&
        mke2fs -q -t ext4 -d "$T_TMP/rootfs" "$image" 64M || need "mke2fs -d of the busybox rootfs failed"
fi
image_sum=$(sha256sum <"$image")

# mkbundle DIR [--tty] [--stdin] [--accel A] -- ARGS...
mkbundle() {
    local dir=$1 tty=false stdin=false accel=auto
    shift
    while [ "$1" != -- ]; do
        case $1 in --tty) tty=true ;; --stdin) stdin=true ;; --accel) accel=$2; shift ;; esac
        shift
    done
    shift
    mkdir -p "$dir/disks"
    truncate -s 1G "$dir/disks/rw.ext4"
    mke2fs -q -t ext4 -F "$dir/disks/rw.ext4"
    # jq 1.6 parses options even after --args: pass argv as a JSON array instead
    local argv
    argv=$(for a in "$@"; do jq -n --arg a "$a" '$a'; done | jq -s .)
    jq -n --argjson argv "$argv" --arg k "$kernel" --arg i "$initrd" --arg img "$image" --arg accel "$accel" \
        --argjson tty "$tty" --argjson stdin "$stdin" --arg id "$(basename "$dir")" \
        '{version: 1, id: $id,
          vm: {kernel: $k, initrd: $i, cpus: 1, memory_mib: 256, accel: $accel, boot_timeout_ms: 60000},
          disks: [{serial: "image", path: $img, readonly: true},
                  {serial: "rw", path: "disks/rw.ext4", readonly: false}],
          setup: {hostname: $id, root_lower: "serial:image", root_upper: "serial:rw"},
          process: {args: $argv, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                    cwd: "/", terminal: $tty},
          open_stdin: $stdin}' >"$dir/config.json"
}

# run_ct NAME [mkbundle opts] -- ARGS: runs in the foreground; sets out, err, rc.
run_ct() {
    local b=$T_TMP/$1
    shift
    mkbundle "$b" "$@"
    rc=0
    timeout -k 5 120 "$RT" run "$b" >"$b.out" 2>"$b.err" </dev/null || rc=$?
    out=$(cat "$b.out")
    err=$(cat "$b.err")
}

state_field() { jq -r ".$2" "$1/state.json" 2>/dev/null; }
has_status() { [ "$(state_field "$1" status)" = "$2" ]; } # BUNDLE STATUS

# ---- the main process ----
run_ct echo -- /bin/echo hello
check_eq "run echo hello prints hello" "hello" "$out"
check_eq "run echo hello exits 0" "0" "$rc"
check_eq "state.json: stopped with exit code 0" "stopped 0" \
    "$(state_field "$T_TMP/echo" status) $(state_field "$T_TMP/echo" exit_code)"
check_eq "state.json names the accelerator (tcg on a PVM host)" \
    "$([ -d /sys/module/kvm_pvm ] && ! [ -d /sys/module/kvm_intel ] && ! [ -d /sys/module/kvm_amd ] && echo tcg || state_field "$T_TMP/echo" accel)" \
    "$(state_field "$T_TMP/echo" accel)"
check_contains "boot.log holds the guest console" "$(cat "$T_TMP/echo/boot.log")" "vminitd"
check_contains "container.log is docker json-file" "$(cat "$T_TMP/echo/container.log")" '"log":"hello\n","stream":"stdout","time":"'

run_ct date -- date -u +%Y-%m-%d
check_eq "the guest clock has the host's date (RTC)" "$(date -u +%Y-%m-%d)" "$out"

run_ct exit7 -- sh -c 'exit 7'
check_eq "sh -c 'exit 7' exits 7" "7" "$rc"

# The main process is PID 1 of its PID namespace: the kernel ignores even SIGKILL sent
# from inside it, as under Docker (docs/runtime.md, "Inside the guest"); its child's
# death by SIGKILL is 137
run_ct kill9 -- sh -c 'kill -9 $$'
check_eq "kill -9 \$\$ from PID 1 is ignored (as under Docker): exits 0" "0" "$rc"
run_ct kill9child -- sh -c 'sh -c "kill -9 \$\$"; exit $?'
check_eq "a child's kill -9 \$\$ exits 137" "137" "$rc"

b=$T_TMP/stdin
mkbundle "$b" --stdin -- cat
rc=0
out=$(echo abc | timeout -k 5 120 "$RT" run "$b" 2>"$b.err") || rc=$?
check_eq "echo abc | run -i cat prints abc" "abc" "$out"
check_eq "echo abc | run -i cat exits 0" "0" "$rc"

run_ct tty --tty -- tty
check_contains "tty mode: tty prints a pts path" "$out" "/dev/pts/"
check_eq "tty mode exits 0" "0" "$rc"

run_ct split -- sh -c 'echo to-out; echo to-err >&2; exit 3'
check_eq "stdout stays stdout" "to-out" "$out"
check_eq "stderr stays stderr" "to-err" "$err"
check_eq "exit 3 with both streams" "3" "$rc"
check_contains "container.log tags stderr" "$(cat "$T_TMP/split/container.log")" '"log":"to-err\n","stream":"stderr"'

run_ct devfd -- sh -c 'echo via-dev-stdout > /dev/stdout; echo via-dev-stderr > /dev/stderr; echo via-fd >/dev/fd/1; readlink /dev/fd; readlink /dev/stdin'
check_eq "/dev/stdout, /dev/fd/1 reach stdout; /dev/fd and /dev/stdin are the process's own" \
    "via-dev-stdout
via-fd
/proc/self/fd
/proc/self/fd/0" "$out"
check_eq "/dev/stderr reaches stderr" "via-dev-stderr" "$err"

run_ct missing -- /no/such/binary
check_eq "a missing executable exits 127" "127" "$rc"
check_contains "the error names the executable" "$err" "/no/such/binary"

# ---- the image stays intact; the writable disk keeps the container's changes ----
b=$T_TMP/writer
mkbundle "$b" -- sh -c 'echo new > /etc/added && rm /bin/ls && echo changed >> /etc/passwd'
rc=0
timeout -k 5 120 "$RT" run "$b" >/dev/null 2>"$b.err" || rc=$?
check_eq "a container writing to its root exits 0" "0" "$rc"
check_eq "the image disk is byte-identical afterwards" "$image_sum" "$(sha256sum <"$image")"
jq '.process.args = ["sh", "-c", "cat /etc/added; [ -e /bin/ls ] || echo gone"]' \
    "$b/config.json" >"$b/c2" && mv "$b/c2" "$b/config.json"
out=$(timeout -k 5 120 "$RT" run "$b" 2>"$b.err")
check_eq "a second run sees the first run's changes" "new
gone" "$out"

# ---- detached start, exec, kill, stop, state ----
b=$T_TMP/detached
mkbundle "$b" -- sh -c 'echo data > /tmp/f; echo started; exec sleep 300'
rc=0
timeout -k 5 120 "$RT" start "$b" 2>"$b.err" || rc=$?
check_eq "start returns 0 once the main process runs" "0" "$rc"
check_eq "state is running after start" "running" "$(state_field "$b" status)"
out=""
for _ in $(seq 1 50); do
    out=$(timeout 30 "$RT" exec "$b" -- cat /tmp/f 2>&1) && [ "$out" = data ] && break
    sleep 0.2
done
check_eq "exec sees the file the main process wrote" "data" "$out"
rc=0
out=$(timeout 30 "$RT" exec "$b" -e FOO=bar -w /tmp -- sh -c 'echo $FOO $(pwd); exit 5' 2>&1) || rc=$?
check_eq "exec with -e and -w" "bar /tmp" "$out"
check_eq "exec returns the process's exit code" "5" "$rc"
rc=0
out=$(echo piped | timeout 30 "$RT" exec "$b" -i -- cat 2>&1) || rc=$?
check_eq "exec -i relays stdin" "piped" "$out"
rc=0
out=$(timeout 30 "$RT" exec "$b" -- nosuchcmd 2>&1) || rc=$?
check_eq "exec of a missing command exits 127" "127" "$rc"
check_contains "exec error names the command" "$out" "nosuchcmd"
rc=0
timeout 60 "$RT" stop "$b" -t 2 2>"$b.stop" || rc=$?
check_eq "stop returns 0" "0" "$rc"
# sleep is PID 1 of the container's PID namespace without a SIGTERM handler: the
# signal is ignored and the stop's SIGKILL ends it after the timeout, as under Docker
check_eq "state after stop: stopped, 137 (PID 1 ignored SIGTERM, SIGKILL)" "stopped 137" "$(state_field "$b" status) $(state_field "$b" exit_code)"
check_contains "container.log of a detached container" "$(cat "$b/container.log")" '"log":"started\n"'
check "no shim socket left after stop" test ! -e "$b/shim.sock"
rc=0
"$RT" delete "$b" 2>/dev/null || rc=$?
check "delete removes the runtime state" test "$rc" = 0 -a ! -e "$b/state.json"

# exec against a foreground `run`; kill BUNDLE
b=$T_TMP/fg
mkbundle "$b" -- sleep 300
timeout -k 5 120 "$RT" run "$b" >"$b.out" 2>"$b.err" &
fg_pid=$!
at_exit "kill -9 $fg_pid"
wait_for 60 has_status "$b" running
out=$(timeout 30 "$RT" exec "$b" -- hostname 2>&1)
check_eq "exec works against a container started with run" "fg" "$out"
"$RT" kill "$b" KILL 2>"$b.kill"
rc=0
wait "$fg_pid" || rc=$?
check_eq "kill BUNDLE KILL ends run with 137" "137" "$rc"

# attach to a detached container: output from then on and its exit code
b=$T_TMP/attach
mkbundle "$b" -- sh -c 'sleep 3; echo late; exit 4'
timeout -k 5 120 "$RT" start "$b" 2>"$b.err"
rc=0
out=$(timeout 60 "$RT" attach "$b" 2>&1) || rc=$?
check_eq "attach relays the main process's output" "late" "$out"
check_eq "attach returns the main process's exit code" "4" "$rc"

# exec -t gets a pty
b=$T_TMP/exectty
mkbundle "$b" -- sleep 300
timeout -k 5 120 "$RT" start "$b" 2>"$b.err"
out=$(timeout 30 "$RT" exec "$b" -t -- tty 2>&1)
check_contains "exec -t runs on a pty" "$out" "/dev/pts/"
timeout 60 "$RT" stop "$b" -t 0 2>/dev/null

# A VM that dies: QEMU killed with SIGKILL
b=$T_TMP/vmdeath
mkbundle "$b" -- sleep 300
timeout -k 5 120 "$RT" start "$b" 2>"$b.err"
vmm=$(state_field "$b" vmm_pid)
if [ -n "$vmm" ] && [ "$vmm" != 0 ] && kill -9 "$vmm"; then
    wait_for 30 has_status "$b" stopped
    check_eq "a VM killed with SIGKILL gives 137" "137" "$(state_field "$b" exit_code)"
    check_contains "the reason names the VM's death" "$(state_field "$b" exit_reason)" "killed by signal 9"
else
    not_ok "the detached container has a vmm pid"
fi

# ---- a boot that misses its deadline ----
b=$T_TMP/deadline
mkbundle "$b" -- true
jq '.vm.boot_timeout_ms = 200' "$b/config.json" >"$b/c2" && mv "$b/c2" "$b/config.json"
rc=0
err=$("$RT" run "$b" 2>&1) || rc=$?
check_eq "a boot past its deadline exits 125" "125" "$rc"
check_contains "the deadline error names the accelerator" "$err" "accelerator \`$(state_field "$T_TMP/echo" accel)\`"
check_contains "the deadline error quotes the boot log" "$err" "boot.log"
check "no qemu is left behind after a boot timeout" test -z "$(pgrep -f "qemu-system.*$b/" || true)"

# ---- refused before boot ----
b=$T_TMP/nokernel
mkbundle "$b" -- true
jq '.vm.kernel = "/nonexistent/vmlinux"' "$b/config.json" >"$b/c2" && mv "$b/c2" "$b/config.json"
rc=0
err=$("$RT" run "$b" 2>&1) || rc=$?
check_contains "a missing kernel says how to build one" "$err" "kernel/build.sh"
check_eq "a missing kernel exits 125" "125" "$rc"

b=$T_TMP/nodisk
mkbundle "$b" -- true
rm "$b/disks/rw.ext4"
rc=0
err=$("$RT" run "$b" 2>&1) || rc=$?
check_contains "a missing disk is named" "$err" "$b/disks/rw.ext4"
check "a missing disk is refused before boot" test ! -s "$b/boot.log"

b=$T_TMP/badimage
mkbundle "$b" -- true
head -c 1M /dev/zero >"$T_TMP/zero.img"
jq --arg z "$T_TMP/zero.img" '.disks[0].path = $z' "$b/config.json" >"$b/c2" && mv "$b/c2" "$b/config.json"
err=$("$RT" run "$b" 2>&1)
check_contains "a corrupt image disk is refused, naming the file" "$err" "$T_TMP/zero.img"

b=$T_TMP/noqemu
mkbundle "$b" -- true
rc=0
err=$(CONTAINER_QEMU=/nonexistent/qemu "$RT" run "$b" 2>&1) || rc=$?
check_contains "a missing qemu is reported" "$err" "/nonexistent/qemu"

b=$T_TMP/badqemu
mkbundle "$b" -- true
printf '#!/bin/sh\necho "qemu: could not frobnicate" >&2\nexit 1\n' >"$T_TMP/fakeqemu"
chmod +x "$T_TMP/fakeqemu"
err=$(CONTAINER_QEMU=$T_TMP/fakeqemu "$RT" run "$b" 2>&1)
check_contains "a failing qemu's stderr tail is in the error" "$err" "could not frobnicate"

plan_end
