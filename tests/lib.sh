# Shared helpers for integration tests (bash). Each test script sources this,
# calls `plan_start`, uses ok/not_ok/skip or t_run, and ends with `plan_end`.
# Output is TAP; tests/run aggregates the results.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
BIN=$BUILD/bin
# Expensive fixtures (kernel, images) live outside the clone and are reused.
CTR_CACHE=${CTR_CACHE:-/var/cache/container-test}
T_N=0
T_FAILED=0
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ctr-test.XXXXXX")
trap 't_cleanup' EXIT
T_CLEANUPS=()
T_NETNS=()

t_cleanup() {
    local c
    for c in "${T_CLEANUPS[@]+"${T_CLEANUPS[@]}"}"; do eval "$c" >/dev/null 2>&1 || true; done
    for c in "${T_NETNS[@]+"${T_NETNS[@]}"}"; do netns_del "$c" >/dev/null 2>&1 || true; done
    rm -rf "$T_TMP"
}
# Register a shell command to run at exit (also on failure).
at_exit() { T_CLEANUPS+=("$1"); }

# netns_add VAR NAME: a network namespace of this test, `ctrt<pid>-NAME`, loopback up,
# its name stored in VAR. Deleted at exit after every at_exit command, with whatever
# still runs in it (what this test started there). Bridges, TAPs, nft rules and every
# packet of a test stay in namespaces made this way, never in the host's.
netns_add() {
    local ns="ctrt$$-$2"
    ip netns add "$ns" || return 1
    T_NETNS+=("$ns")
    ip -n "$ns" link set lo up || return 1
    printf -v "$1" '%s' "$ns"
}
# netns_reexec NAME: run this test script again inside a network namespace of its own
# (`ctrt<pid>-NAME`, deleted at exit), so that everything it starts -- the daemon with its
# bridge, registries and servers on 127.0.0.1 -- shares one loopback, away from the host's.
# The first run only execs; the re-run (CTR_TEST_NETNS set) returns.
netns_reexec() {
    if [ -z "${CTR_TEST_NETNS:-}" ]; then
        local ns="ctrt$$-$1"
        command -v ip >/dev/null && ip netns add "$ns" || return 1
        rm -rf "$T_TMP"
        CTR_TEST_NETNS=$ns exec ip netns exec "$ns" bash "$0"
    fi
    T_NETNS+=("$CTR_TEST_NETNS")
    ip link set lo up
}
netns_del() {
    local p
    for p in $(ip netns pids "$1" 2>/dev/null); do
        [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] || kill -9 "$p" 2>/dev/null # not the test itself
    done
    ip netns del "$1"
}

plan_start() { :; }
ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
not_ok() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }
skip() { T_N=$((T_N + 1)); echo "ok $T_N # SKIP $*"; }
diag() { printf '# %s\n' "$@"; }
# plan_end: a daemon of this file that logged a lock order violation (its log, anywhere
# under T_TMP) fails the file: the order is docs/hacking.md's "Locks".
plan_end() {
    local bad
    bad=$(grep -rsh --include='*.log' --include='*.log.[0-9]' --include='*.out' --include='*.err' \
        'lock order violated' "$T_TMP" | head -3)
    if [ -n "$bad" ]; then
        not_ok "no daemon started by this file logged a lock order violation"
        diag "$bad"
    fi
    echo "1..$T_N"
    [ "$T_FAILED" -eq 0 ]
}

# need REASON: a facility the file needs is missing: skip the whole file, loudly (one
# SKIP line saying why, never counted as a pass).
need() {
    skip "$1"
    plan_end
    exit 0
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds; after SECONDS, say what
# was waited for in a diagnostic and return 1. CMD runs anew each time: wrap a condition
# in a function or `sh -c`, never `test "$(...)"` (that is evaluated once).
wait_for() {
    local secs=$1 end=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $end ]; then
            diag "timed out after $secs s waiting for: $*"
            return 1
        fi
        sleep 0.1
    done
}

# ---- starting the daemon: the two ways, one function each ----
# daemon_start: run $DAEMON in the background in $DAEMON_NS (DAEMON_PID) and wait for its
# /_ping; the variables come from daemon_fixtures (integration/40-daemon-lib.bash).
daemon_start() {
    # not through in_ns: a function in the background would be a subshell, and
    # DAEMON_PID must be the daemon's (`ip netns exec` execs it)
    ip netns exec "$DAEMON_NS" "$DAEMON" --root "$DATA" --run-root "$RUN" --runtime "$RT" --kernel "$KERNEL" --initrd "$INITRD" \
        --default-memory 256m --default-cpus 1 --log-level debug \
        --log-file "$T_TMP/daemon.log" 2>>"$T_TMP/daemon.err" &
    DAEMON_PID=$!
    local end=$((SECONDS + 20))
    until curl -sf --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; do
        if [ $SECONDS -ge $end ] || ! kill -0 "$DAEMON_PID" 2>/dev/null; then
            diag "daemon did not come up:" "$(tail -5 "$T_TMP/daemon.err" "$T_TMP/daemon.log" 2>/dev/null)"
            return 1
        fi
        sleep 0.1
    done
}
# cli_system_start [DESC [ARGS...]]: `container system start` (ctr, so in CLI_NS) with the
# root, run root, kernel and initrd of cli_fixtures (integration/45-cli-lib.bash), or ARGS;
# checked as DESC (default "system start"). On failure the daemon's output goes out as
# diagnostics and the file ends. At exit: `system stop --containers`, then SIGKILL to the
# daemon this test started (its pid file), and only if it still is one.
cli_system_start() {
    local desc=${1:-system start}
    [ $# -gt 0 ] && shift
    local args=("$@")
    [ ${#args[@]} -eq 0 ] && args=(--root "$root" --run-root "$run" --kernel "$kernel" --initrd "$initrd")
    ctr system start "${args[@]}"
    check_eq "$desc" 0 "$rc"
    if [ "$rc" -ne 0 ]; then
        diag "$out" "$err"
        tail -20 "$run"/container-apiserver.out 2>/dev/null | sed 's/^/# /'
        plan_end
        exit 1
    fi
    at_exit "timeout 60 $C system stop --containers --timeout 30"
    at_exit "p=\$(cat $run/container-apiserver.pid) && grep -q '^container-apis' /proc/\$p/comm && kill -9 \$p"
}

# check DESC CMD...: run CMD, ok if it exits 0; on failure print its output as diagnostics.
check() {
    local desc=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc"; printf '%s\n' "$out" | tail -20 | sed 's/^/#   /'; fi
}
# check_eq DESC EXPECTED ACTUAL
check_eq() {
    if [ "$2" == "$3" ]; then ok "$1"; else
        not_ok "$1"; diag "expected: $(printf '%q' "$2")" "actual:   $(printf '%q' "$3")"; fi
}
# check_contains DESC HAYSTACK NEEDLE
check_contains() {
    if [[ "$2" == *"$3"* ]]; then ok "$1"; else
        not_ok "$1"; diag "missing: $3" "in: $(printf '%s' "$2" | tail -c 2000)"; fi
}
