#!/bin/bash
# bench/boot/run.sh [N]
#
# The boot benchmark, both halves in one run: the median wall time of N
# `container-runtime run` of a bundle running `true` (busybox image, writable
# disk, the project's kernel and vminitd initramfs), then bench/boot/bare.sh's
# bare QEMU boot of the same kernel with a trivial init, and their ratio:
#   container_run_median_s=X.XXX
#   bare_boot_median_s=X.XXX
#   ratio=X.XXX  (target <= 1.15)
# The halves are interleaved (container run, bare boot, ...) so both see the
# same load on the shared cores; per-run times go to stderr, and the last
# container run is traced (CONTAINER_RUNTIME_TRACE) to show where the time goes
# (QEMU start, hello, setup, exec, exit, power-off). One VM at a time.
#
# Environment: CTR_KERNEL (vmlinux; default kernel/build.sh's cached build),
# BUILD (default <repo>/build), and bare.sh's variables for the bare half.
set -euo pipefail

n=${1:-5}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N]  (N >= 1 runs)" >&2; exit 2; }
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD:-$top/build}
rt=$build/bin/container-runtime

die() { printf 'run.sh: error: %s\n' "$*" >&2; exit 1; }
[ -x "$rt" ] || die "\`$rt\` not built; run \`make\`"
[ -x "$build/bin/vminitd" ] || die "\`$build/bin/vminitd\` not built; run \`make\`"
[ -x "$build/bin/container-unpack" ] || die "\`$build/bin/container-unpack\` not built; run \`make\`"
command -v jq >/dev/null || die "\`jq\` is required; install it with apt-get"

kernel=${CTR_KERNEL:-}
[ -n "$kernel" ] || kernel=$("$top/kernel/build.sh" | tail -1) || die "kernel build failed; run \`kernel/build.sh\`"
kernel=$(realpath "$kernel")
export CTR_KERNEL=$kernel

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-boot.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$top/scripts/make-initramfs.sh" "$work/initramfs.cpio" "$build/bin/vminitd" >/dev/null
"$top/scripts/make-busybox-image.sh" "$work/oci" >/dev/null
manifest=$(jq -r '.manifests[0].digest' "$work/oci/index.json")
layer=$(jq -r '.layers[0].digest' "$work/oci/blobs/sha256/${manifest#sha256:}")
"$build/bin/container-unpack" -o "$work/image.ext4" \
    "$work/oci/blobs/sha256/${layer#sha256:}:application/vnd.oci.image.layer.v1.tar+gzip" >/dev/null

# A fresh bundle per run, as `container run --rm` would make (sparse writable disk).
mkbundle() {
    local b=$1
    mkdir -p "$b/disks"
    truncate -s 8G "$b/disks/rw.ext4"
    mke2fs -q -t ext4 -F "$b/disks/rw.ext4"
    jq -n --arg k "$kernel" --arg i "$work/initramfs.cpio" --arg img "$work/image.ext4" \
        '{version: 1, id: "bench",
          vm: {kernel: $k, initrd: $i, cpus: 1, memory_mib: 256, boot_timeout_ms: 60000},
          disks: [{serial: "image", path: $img, readonly: true},
                  {serial: "rw", path: "disks/rw.ext4", readonly: false}],
          setup: {root_lower: "serial:image", root_upper: "serial:rw"},
          process: {args: ["true"], env: ["PATH=/usr/bin:/bin"], cwd: "/"}}' >"$b/config.json"
}

# Interleaved, one VM at a time: container run i, then bare boot i, so both halves
# see the same host load (the 2 cores are shared).
accel=""
times=()
bares=()
for i in $(seq 1 "$n"); do
    b=$work/b$i
    mkbundle "$b"
    trace=()
    [ "$i" -eq "$n" ] && trace=(env CONTAINER_RUNTIME_TRACE=1)
    t0=$EPOCHREALTIME
    "${trace[@]}" "$rt" run "$b" </dev/null >/dev/null 2>"$work/err.$i" ||
        { cat "$work/err.$i" >&2; die "container run $i failed"; }
    t1=$EPOCHREALTIME
    t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    accel=$(jq -r .accel "$b/state.json")
    rm -rf "$b"
    bare=$("$top/bench/boot/bare.sh" 1 2>"$work/bare.$i" | sed -n 's/^bare_boot_median_s=//p')
    [ -n "$bare" ] || { cat "$work/bare.$i" >&2; die "bench/boot/bare.sh printed no time"; }
    printf '# run %d: container %s s, bare %s s\n' "$i" "$t" "$bare" >&2
    times+=("$t")
    bares+=("$bare")
done
grep '^#' "$work/bare.$n" | grep -v '# boot' >&2 || true
printf '# container: accel %s, -m 256 -smp 1, busybox image, `true`; trace of the last run:\n' "$accel" >&2
sed 's/^/#   /' "$work/err.$n" >&2
median() { sort -n | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ct=$(printf '%s\n' "${times[@]}" | median)
bare=$(printf '%s\n' "${bares[@]}" | median)
echo "container_run_median_s=$ct"
echo "bare_boot_median_s=$bare"
awk -v c="$ct" -v b="$bare" -v a="$accel" 'BEGIN { printf "ratio=%.3f (target <= 1.15, accel %s)\n", c / b, a }'
