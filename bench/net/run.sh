#!/usr/bin/env bash
# bench/net: container networking against a bare QEMU guest with the same netdev, in one
# run, all inside a network namespace this script makes (nothing leaves it):
#   - guest→host TCP throughput: iperf3 -s in the guest, `iperf3 -c GUEST -R` in the
#     namespace (the guest sends);
#   - guest→guest TCP throughput: iperf3 client in one guest, server in another, on the
#     same bridge;
#   - HTTP request rate (ab, keep-alive off) against busybox httpd in the guest: for the
#     container through its published port `-p 127.0.0.1:8080:80` (the shim's proxy) and
#     directly at its address; for the bare guest directly (it has no proxy).
# Container: `container run` of the ctr-bench-net image (bench/net/image.sh: Debian minbase
# + iperf3, iproute2, busybox) on the daemon's default network (bridge ctr0, TAP, nft
# table inet container). Bare: qemu-system-x86_64 -M microvm with the same kernel, memory,
# vCPUs and accelerator, the same image as its root disk, and the same netdev (a TAP on
# ctr0 with vnet headers, virtio-net-device), PID 1 = bench/net/guest-init.sh.
# At most two VMs run at once. Bare and container rounds alternate (so both see the same
# load on a shared machine); every figure is the median of --runs rounds.
# Usage: bench/net/run.sh [--runs N] [--secs S] [--requests N] [--bare-only] [--record]
#   (--record rewrites the "## Network (bench/net)" section of docs/performance.md)
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=3 SECS=10 REQS=2000 CONC=4 MEM=512 RECORD=0 BARE_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --secs) SECS=$2; shift 2 ;;
    --requests) REQS=$2; shift 2 ;;
    --bare-only) BARE_ONLY=1; shift ;;
    --record) RECORD=1; shift ;;
    *) echo "usage: $0 [--runs N] [--secs S] [--requests N] [--bare-only] [--record]" >&2; exit 2 ;;
    esac
done
for v in RUNS SECS REQS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench/net: --${v,,} must be a positive integer, not \`${!v}\`" >&2; exit 2; }
done
source "$TOP/tests/lib.sh"
source "$TOP/tests/integration/45-cli-lib.bash"
die() { echo "bench/net: $*" >&2; exit 1; }
need() { die "$1"; } # a benchmark does not skip
for tool in iperf3 ab qemu-system-x86_64 jq; do
    command -v "$tool" >/dev/null || die "missing \`$tool\` (scripts/install-deps.sh installs it)"
done
# A private copy of the binaries: others may rebuild build/ while this runs.
mkdir -p "$T_TMP/bin"
for i in 1 2 3 4 5 6; do
    cp "$BIN"/container* "$BIN"/vminitd "$BIN"/ctr-net "$T_TMP/bin/" 2>/dev/null && break
    [ $i = 6 ] && die "cannot copy the binaries from $BIN (run make)"
    sleep 10
done
BIN=$T_TMP/bin
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench/net: preparing fixtures (kernel, initramfs, guest image)" >&2
cli_fixtures # sets CLI_NS: the namespace everything below runs in
IMG=$("$TOP/bench/net/image.sh") || die "guest image build failed"
NS=$CLI_NS
in_ns() { ip netns exec "$NS" "$@"; }

# ---- the daemon and its default network ----
ctr system start --root "$root" --run-root "$run" --kernel "$kernel" --initrd "$initrd"
[ "$rc" -eq 0 ] || die "system start failed: $err"
at_exit "timeout 60 $C system stop --containers --timeout 30"
at_exit "p=\$(cat $run/container-apiserver.pid) && grep -q '^container-apis' /proc/\$p/comm && kill -9 \$p"
BRIDGE=ctr0 GW=192.168.64.1 PREFIX=24
daemon_net=1
ctr network inspect default
if [ "$rc" -eq 0 ] && [ -n "$(jq -r '.[0].IPAM.Config[0].Gateway // empty' <<<"$out")" ]; then
    GW=$(jq -r '.[0].IPAM.Config[0].Gateway' <<<"$out")
    sub=$(jq -r '.[0].IPAM.Config[0].Subnet' <<<"$out")
    PREFIX=${sub#*/}
else
    daemon_net=0
fi
if ! in_ns "$BIN/ctr-net" link-exists "$BRIDGE"; then
    # The daemon has no networking yet: make the same bridge and rules with the same
    # library, so the bare half still measures what containers will get.
    daemon_net=0
    echo "bench/net: the daemon made no $BRIDGE; making it with src/net (ctr-net)" >&2
    in_ns "$BIN/ctr-net" bridge-ensure "$BRIDGE" "$GW/$PREFIX" 1500 || die "bridge-ensure failed"
    in_ns "$BIN/ctr-net" nft-apply "$BRIDGE=${GW%.*}.0/$PREFIX" || die "nft-apply failed"
    in_ns "$BIN/ctr-net" forward-enable || die "forward-enable failed"
fi
NETPFX=${GW%.*} # bare guests take .250 and .251 of the default /24, far from the IPAM's start

# ---- host side of the kernel command line, as bench/boot/bare.sh ----
cmdline=$(cat "$TOP/kernel/cmdline")
ACCEL=${BARE_ACCEL:-tcg,thread=multi}
if [[ $ACCEL == tcg* ]]; then
    cc -O2 -o "$T_TMP/host-tsc-khz" "$TOP/kernel/host-tsc-khz.c" || die "cannot build kernel/host-tsc-khz.c"
    cmdline="$cmdline tsc_early_khz=$("$T_TMP/host-tsc-khz") $(cat "$TOP/kernel/cmdline-tcg-1cpu")"
fi

# bare_start IDX ROLE [PEER]: boots bare guest IDX (address .25IDX) in the namespace;
# sets bare_pid and bare_log.
bare_start() {
    local idx=$1 role=$2 peer=${3:-} tap=ctapbench$1 addr=$NETPFX.25$1
    bare_log=$T_TMP/bare-$idx-$role.log
    in_ns ip link del "$tap" 2>/dev/null
    in_ns ip tuntap add dev "$tap" mode tap vnet_hdr || die "cannot create TAP $tap"
    in_ns ip link set "$tap" master "$BRIDGE" mtu 1500 up || die "cannot attach $tap to $BRIDGE"
    local mac
    mac=$(printf '02:42:%02x:%02x:%02x:%02x' ${addr//./ })
    local args="root=/dev/vda ro init=/bench-init bench.ip=$addr/$PREFIX bench.gw=$GW bench.role=$role"
    [ -n "$peer" ] && args="$args bench.peer=$peer bench.secs=$SECS"
    in_ns timeout -k 5 $((SECS + 300)) qemu-system-x86_64 -M microvm,acpi=off,x-option-roms=off \
        -accel "$ACCEL" -cpu max -m "$MEM" -smp 1 -nodefaults -no-user-config -nographic -no-reboot \
        -kernel "$kernel" -append "$cmdline $args" -serial "file:$bare_log" \
        -drive "id=d0,file=$IMG/rootfs.ext4,if=none,format=raw,readonly=on" \
        -device virtio-blk-device,drive=d0 -device virtio-rng-device \
        -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
        -device "virtio-net-device,netdev=n0,mac=$mac" </dev/null >"$bare_log.qemu" 2>&1 &
    bare_pid=$!
    at_exit "kill $bare_pid"
}
bare_stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; in_ns ip link del "ctapbench$2" 2>/dev/null; }
wait_log() { # FILE PATTERN SECS PID
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$4" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# iperf_json_rate: Mbit/s received by the server from iperf3 -J output on stdin.
iperf_json_rate() { tr -d '\r' | jq -e -r '.end.sum_received.bits_per_second / 1e6 | . * 10 | round / 10' 2>/dev/null; }
# iperf_rev ADDR: Mbit/s the guest at ADDR sends to the namespace. (No port probe before:
# iperf3 -s takes a bare connect for a client and resets the next one; retry instead
# while the server is still starting.)
iperf_rev() {
    local j try
    for try in 1 2 3 4 5; do
        j=$(in_ns iperf3 -c "$1" -R -t "$SECS" -J 2>&1)
        iperf_json_rate <<<"$j" && return 0
        sleep 2
    done
    echo "iperf3 -c $1 -R failed: $(jq -r '.error // empty' <<<"$j" 2>/dev/null || echo "$j" | head -5)" >&2
    return 1
}
# ab_rate URL: requests per second; fails on any failed or non-2xx request.
ab_rate() {
    local o
    o=$(in_ns ab -q -n "$REQS" -c "$CONC" "$1" 2>&1) || { echo "ab $1 failed: $o" >&2; return 1; }
    grep -q '^Failed requests: *0$' <<<"$o" && ! grep -q '^Non-2xx' <<<"$o" ||
        { echo "ab $1 had failures: $(grep -E '^(Failed|Non-2xx)' <<<"$o")" >&2; return 1; }
    awk '/^Requests per second:/ { printf "%.0f", $4 }' <<<"$o"
}
wait_tcp() { # ADDR PORT SECS
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        in_ns bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

declare -A R # R[side,figure] = per-run values
add() { R[$1,$2]="${R[$1,$2]:-} $3"; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END {
    if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- the rounds: bare and container alternate, so both halves see the same load ----
bare_round() { # R
    local r=$1 spid slog cpid clog v
    echo "bench/net: bare run $r/$RUNS" >&2
    bare_start 0 server
    spid=$bare_pid slog=$bare_log
    wait_log "$slog" "bench-init: ready" 180 "$spid" ||
        die "bare server guest did not come up: $(tail -5 "$slog" "$slog.qemu" | tr -d '\r')"
    wait_tcp "$NETPFX.250" 80 30 || die "bare guest's httpd unreachable at $NETPFX.250:80"
    v=$(iperf_rev "$NETPFX.250") || die "bare guest→host iperf3 failed"
    add bare g2h "$v"
    v=$(ab_rate "http://$NETPFX.250/") || die "bare ab failed"
    add bare http_direct "$v"
    bare_start 1 client "$NETPFX.250"
    cpid=$bare_pid clog=$bare_log
    wait "$cpid" 2>/dev/null
    v=$(sed -n '/bench-init: iperf3-begin/,/bench-init: iperf3-end/p' "$clog" | sed '1d;$d' | iperf_json_rate) ||
        die "bare guest→guest iperf3 gave no result: $(tail -5 "$clog" | tr -d '\r')"
    [[ $v =~ ^[0-9.]+$ ]] || die "bare guest→guest iperf3 gave no result: $(tail -5 "$clog" | tr -d '\r')"
    add bare g2g "$v"
    bare_stop "$cpid" 1
    bare_stop "$spid" 0
}
ctr_round() { # R
    local r=$1 ip v
    echo "bench/net: container run $r/$RUNS" >&2
    ctr run -d --name "srv$r" -m "${MEM}m" -p 127.0.0.1:8080:80 ctr-bench-net \
        sh -c 'iperf3 -s -D && exec busybox httpd -f -p 80 -h /www'
    [ "$rc" -eq 0 ] || die "container run failed: $err"
    ctr inspect "srv$r"
    ip=$(jq -r '.[0].NetworkSettings.IPAddress // empty' <<<"$out")
    [ -n "$ip" ] || die "the container got no address (inspect: NetworkSettings.IPAddress)"
    wait_tcp "$ip" 80 180 || die "container httpd unreachable at $ip:80"
    v=$(iperf_rev "$ip") || die "container→host iperf3 failed"
    add ctr g2h "$v"
    v=$(ab_rate "http://127.0.0.1:8080/") || die "ab through -p failed"
    add ctr http_p "$v"
    v=$(ab_rate "http://$ip/") || die "ab direct failed"
    add ctr http_direct "$v"
    ctr run --rm -m "${MEM}m" ctr-bench-net iperf3 -c "$ip" -t "$SECS" -J
    [ "$rc" -eq 0 ] || die "container→container iperf3 failed (exit $rc): $err $(jq -r '.error // empty' <<<"$out" 2>/dev/null)"
    v=$(iperf_json_rate <<<"$out")
    [[ $v =~ ^[0-9.]+$ ]] || die "container→container iperf3 gave no result: $out"
    add ctr g2g "$v"
    ctr rm -f "srv$r"
}
container_note=
if [ "$BARE_ONLY" = 1 ]; then
    container_note="not run (--bare-only)"
elif [ "$daemon_net" = 0 ]; then
    container_note="not run: the daemon on this tree has no networking (no default network)"
else
    ctr image load -i "$IMG/image.tar"
    [ "$rc" -eq 0 ] || die "image load failed: $err"
fi
for ((r = 1; r <= RUNS; r++)); do
    bare_round "$r"
    [ -z "$container_note" ] && ctr_round "$r"
done

# ---- report ----
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2fx", a / b }'; }
m() { median <<<"${R[$1,$2]:-}"; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
table=$(
    printf '%-44s %12s %12s %8s\n' "figure (median of $RUNS)" container "bare QEMU" ratio
    row() { printf '%-44s %12s %12s %8s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
    row "guest→host TCP, Mbit/s (iperf3 -R, ${SECS} s)" "$(m ctr g2h)" "$(m bare g2h)"
    row "guest→guest TCP, Mbit/s (iperf3, ${SECS} s)" "$(m ctr g2g)" "$(m bare g2g)"
    row "HTTP req/s, -p 127.0.0.1:8080 vs bare direct" "$(m ctr http_p)" "$(m bare http_direct)"
    row "HTTP req/s, direct to the guest address" "$(m ctr http_direct)" "$(m bare http_direct)"
)
header="bench/net: accel $ACCEL, 1 vCPU and ${MEM} MiB per VM, iperf3 ${SECS} s, ab -n $REQS -c $CONC (busybox httpd, 612-byte page), host $cpu ($(nproc) cores), load at start $load_start"
runs=$(for k in "${!R[@]}"; do echo "$k:${R[$k]}"; done | sort)
echo "$header"
echo "$table"
[ -n "$container_note" ] && echo "container half: $container_note"
echo "per run:"
echo "$runs"

if [ "$RECORD" = 1 ]; then
    body=$(
        cat <<MD
Run with \`bench/net/run.sh --record\` (\`--runs N\`, \`--secs S\`, \`--requests N\`).

Everything runs in a network namespace the script makes. Both sides use the same kernel,
accelerator, 1 vCPU and ${MEM} MiB, the same Debian minbase + iperf3 root filesystem
(\`bench/net/image.sh\`) and the same netdev: a TAP with vnet headers on the bridge \`ctr0\`
(with the daemon's \`inet container\` rules loaded), \`-netdev tap\` + \`virtio-net-device\`.
The container is a \`container run\` on the default network; the bare guest is
qemu-system-x86_64 -M microvm with its own PID 1 (\`bench/net/guest-init.sh\`: address,
route, iperf3 -s / busybox httpd). guest→host = \`iperf3 -c GUEST -R\` from the namespace
(the guest sends); guest→guest = an iperf3 client VM against a server VM on the same
bridge; HTTP = \`ab -n $REQS -c $CONC\` (no keep-alive) against busybox httpd, for the
container both through its published port \`-p 127.0.0.1:8080:80\` (the shim's TCP proxy)
and directly at its address. Bare and container rounds alternate, so both see the same
load. Ratio = container / bare (of the medians).

Machine: $cpu, $(nproc) cores shared with other work (load average at start:
$load_start); **TCG** (no usable KVM here: see docs/kernel.md), so absolute figures are
far below a KVM host's. $(date -u +%Y-%m-%d).

\`\`\`
$header
$table${container_note:+
container half: $container_note}
\`\`\`

Per run:

\`\`\`
$runs
\`\`\`
MD
    )
    python3 - "$TOP/docs/performance.md" "$body" <<'PY'
import os, re, sys
path, body = sys.argv[1], sys.argv[2]
text = open(path).read() if os.path.exists(path) else "# Performance\n"
section = "## Network (bench/net)\n\n" + body.strip() + "\n"
pat = re.compile(r"^## Network \(bench/net\)\n.*?(?=^## |\Z)", re.S | re.M)
if pat.search(text):
    text = pat.sub(lambda m: section + "\n", text)
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
    echo "recorded in docs/performance.md" >&2
fi
