#!/usr/bin/env bash
# container-apiserver under load, and leaks:
# 1. 10 containers started at once (`container run -d -m 128M`, 1 vCPU each,
#    TCG: slow on 2 cores, hence the generous deadline) all run (each logs its
#    marker) and are all removed cleanly: no bundle directory, no shim, no QEMU
#    left.
# 2. CTR_LOAD_CYCLES run/rm cycles (default 200; alternately `run --rm` in the
#    foreground and `run -d` + `rm -f`), measuring the daemon's open fds, its
#    RSS and the data root's disk use after a warm-up, at the middle and at the
#    end. Prints the figures; fails if the fds grew at all, RSS by more than
#    CTR_LOAD_RSS_KIB (8 MiB) or the disk use by more than CTR_LOAD_DU_KIB (1 MiB).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
C=$BIN/container
[ -x "$C" ] || need "container not built (run make)"
daemon_fixtures
daemon_start || need "the daemon did not start"
export CONTAINER_HOST=unix://$SOCK
CYCLES=${CTR_LOAD_CYCLES:-200}
RSS_BOUND=${CTR_LOAD_RSS_KIB:-8192}
DU_BOUND=${CTR_LOAD_DU_KIB:-1024}

# Our own shims and VMs: processes whose command line names this test's data root.
ours() {
    local p
    for p in /proc/[0-9]*; do
        { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "$DATA/containers/" && echo "${p#/proc/}"
    done
}
bundles() { find "$DATA/containers" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l; }
fds() { ls "/proc/$DAEMON_PID/fd" | wc -l; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON_PID/status"; }
du_kib() { du -sk "$DATA" | cut -f1; }
# figures LABEL: settle, then print and remember fds, rss, du
figures() {
    local i
    for ((i = 0; i < 50; i++)); do # the last removal's threads may still be ending
        [ -z "$(ours)" ] && break
        sleep 0.2
    done
    sleep 1
    F=$(fds) R=$(rss) D=$(du_kib)
    diag "$(printf '%-8s fds %4d  rss %7d KiB  data root %8d KiB  bundles %d  shims/VMs %d' \
        "$1" "$F" "$R" "$D" "$(bundles)" "$(ours | wc -l)")"
}

# ---- 10 at once ----
t0=$SECONDS
pids=()
for i in $(seq 1 10); do
    timeout -k 5 300 "$C" run -d -m 128M --name load$i busybox \
        sh -c "echo marker-$i; exec sleep 600" >"$T_TMP/run$i.out" 2>&1 &
    pids+=($!)
done
wait "${pids[@]}" # not `wait`: the daemon is a child too
started=0
for i in $(seq 1 10); do
    [ "$(wc -c <"$T_TMP/run$i.out")" -ge 64 ] && started=$((started + 1)) ||
        diag "load$i: $(cat "$T_TMP/run$i.out")"
done
check_eq "10 concurrent run -d all start" 10 "$started"
logged() {
    local i
    for i in $(seq 1 10); do
        "$C" logs load$i 2>/dev/null | grep -qx "marker-$i" || return 1
    done
}
wait_for 300 logged
check "all 10 ran their process (each logged its marker)" logged
check_eq "all 10 are running" 10 "$("$C" ls --format json | jq '[.[] | select(.state == "running")] | length')"
diag "10 containers up in $((SECONDS - t0)) s"
t0=$SECONDS
pids=()
for i in $(seq 1 10); do
    timeout -k 5 120 "$C" rm -f load$i >"$T_TMP/rm$i.out" 2>&1 &
    pids+=($!)
done
wait "${pids[@]}"
diag "10 containers removed in $((SECONDS - t0)) s"
check_eq "none is left in ls -a" 0 "$("$C" ls -a --format json | jq length)"
gone() { [ "$(bundles)" = 0 ] && [ -z "$(ours)" ]; }
wait_for 30 gone
check_eq "no bundle directory is left" 0 "$(bundles)"
check_eq "no shim or QEMU process is left" "" "$(ours | tr '\n' ' ')"

# ---- run/rm cycles ----
cycle() { # N: odd `run --rm`, even `run -d` + `rm -f`
    local out
    if (($1 % 2)); then
        out=$(timeout -k 5 180 "$C" run --rm -m 128M busybox echo cycle-$1 2>&1)
        [ "$out" = "cycle-$1" ] || { diag "cycle $1 (run --rm): $out"; return 1; }
    else
        out=$(timeout -k 5 180 "$C" run -d -m 128M --name cyc$1 busybox sleep 600 2>&1) ||
            { diag "cycle $1 (run -d): $out"; return 1; }
        out=$(timeout -k 5 120 "$C" rm -f cyc$1 2>&1) || { diag "cycle $1 (rm -f): $out"; return 1; }
    fi
}
warm=$((CYCLES < 20 ? CYCLES / 4 : 10))
failed=0
t0=$SECONDS
for ((n = 1; n <= warm; n++)); do cycle $n || failed=$((failed + 1)); done
figures warm-up
F0=$F R0=$R D0=$D
mid=$(((CYCLES + warm) / 2))
for ((; n <= CYCLES; n++)); do
    cycle $n || failed=$((failed + 1))
    if [ $n = $mid ]; then
        figures "cycle $n"
        F1=$F R1=$R D1=$D
    fi
done
elapsed=$((SECONDS - t0))
figures "cycle $CYCLES"
diag "$CYCLES run/rm cycles in $elapsed s ($((elapsed * 1000 / (CYCLES > 0 ? CYCLES : 1))) ms each)"
check_eq "every cycle ran and removed its container" 0 "$failed"
check_eq "no container is left" 0 "$("$C" ls -a --format json | jq length)"
check_eq "no bundle directory is left after the cycles" 0 "$(bundles)"
check_eq "no shim or QEMU process is left after the cycles" "" "$(ours | tr '\n' ' ')"
check "the daemon's open fds did not grow after the warm-up ($F0 -> ${F1:-?} -> $F)" \
    [ "$F" -le "$F0" -a "${F1:-$F0}" -le "$F0" ]
check "the daemon's RSS grew by at most $RSS_BOUND KiB ($R0 -> ${R1:-?} -> $R KiB)" \
    [ $((R - R0)) -le "$RSS_BOUND" ]
check "the data root grew by at most $DU_BOUND KiB ($D0 -> ${D1:-?} -> $D KiB)" \
    [ $((D - D0)) -le "$DU_BOUND" ]
plan_end
