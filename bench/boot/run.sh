#!/bin/bash
# bench/boot/run.sh [N]
#
# The boot benchmark, both halves in one run: the median wall time of N
# `container-runtime run` of a bundle running `true`, then bench/boot/bare.sh's
# bare QEMU boot of the same kernel with a trivial init, and their ratio:
#   container_run_median_s=X.XXX
#   bare_boot_median_s=X.XXX
#   ratio=X.XXX  (target <= 1.15)
#   pair_ratio_median=X.XXX  (median of the N container/bare pairs' ratios)
#   container_cold_median_s=X.XXX, cold_ratio=X.XXX  (CONTAINER_WARM_START=0)
#   template_create_s=X.XXX  (the first run of the shape made its warm-start template)
# Exit status 3 when the ratio misses the target (after printing every figure).
# The container half takes the default path: warm start (docs/runtime.md), from
# a template made by an untimed first run in a template directory of its own
# (CONTAINER_TEMPLATE_DIR), so its making is timed too; every timed run must
# say `warm start` in its trace. A cold run (CONTAINER_WARM_START=0) of another
# fresh bundle is timed in each round as well.
# Each bundle is made as `container run` makes it (ctr-prepare bundle =
# bundle_create: the busybox image's ext4 snapshot from the store, read-only, a
# fresh sparse writable disk, the image config, vCPUs "auto" and the default
# memory unless BENCH_CPUS / BENCH_MEM say otherwise); making it is timed
# apart (bundle_create_median_s). The bare half boots with the same
# accelerator, vCPUs and memory as the container's VM (read from the shim's
# trace). The halves are interleaved (container run, bare boot, ...) so both
# see the same load on the shared cores; per-run times go to stderr, and the
# last container run's trace shows where the time goes. One VM at a time.
#
# Environment: CTR_KERNEL (vmlinux; default kernel/build.sh's cached build),
# BUILD (default <repo>/build), BENCH_CPUS (`-c`, default: auto), BENCH_MEM
# (`-m`, default: bundle_create's), and bare.sh's variables for the bare half.
set -euo pipefail

n=${1:-5}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N]  (N >= 1 runs)" >&2; exit 2; }
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD:-$top/build}
rt=$build/bin/container-runtime

die() { printf 'run.sh: error: %s\n' "$*" >&2; exit 1; }
[ -x "$rt" ] || die "\`$rt\` not built; run \`make\`"
[ -x "$build/bin/vminitd" ] || die "\`$build/bin/vminitd\` not built; run \`make\`"
[ -x "$build/bin/ctr-prepare" ] || die "\`$build/bin/ctr-prepare\` not built; run \`make\`"
command -v jq >/dev/null || die "\`jq\` is required; install it with apt-get"

kernel=${CTR_KERNEL:-}
[ -n "$kernel" ] || kernel=$("$top/kernel/build.sh" | tail -1) || die "kernel build failed; run \`kernel/build.sh\`"
kernel=$(realpath "$kernel")
export CTR_KERNEL=$kernel

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-boot.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$top/scripts/make-initramfs.sh" "$work/initramfs.cpio" "$build/bin/vminitd" >/dev/null
"$top/scripts/make-busybox-image.sh" "$work/oci" >/dev/null
"$build/bin/ctr-prepare" load --root "$work/data" "$work/oci" --name bench/busybox:1 >/dev/null
shape=()
[ -n "${BENCH_CPUS:-}" ] && shape+=(-c "$BENCH_CPUS")
[ -n "${BENCH_MEM:-}" ] && shape+=(-m "$BENCH_MEM")
# The first bundle makes the image's ext4 snapshot in the store, and its run
# makes the warm-start template: not in the medians; the template's making is
# reported.
export CONTAINER_TEMPLATE_DIR=$work/templates
"$build/bin/ctr-prepare" bundle --root "$work/data" --kernel "$kernel" --initrd "$work/initramfs.cpio" \
    "${shape[@]}" "$work/b0" bench/busybox:1 true >/dev/null
CONTAINER_RUNTIME_TRACE=1 "$rt" run "$work/b0" </dev/null >/dev/null 2>"$work/err.0" ||
    { cat "$work/err.0" >&2; die "first container run failed"; }
tmpl_s=$(sed -n 's/.*warm-start template made in \([0-9.]*\) s.*/\1/p' "$work/err.0")
[ -n "$tmpl_s" ] || { cat "$work/err.0" >&2; die "the first run made no warm-start template"; }
rm -rf "$work/b0"

# A fresh bundle per run, as `container run --rm` makes it.
mkbundle() {
    "$build/bin/ctr-prepare" bundle --root "$work/data" --kernel "$kernel" \
        --initrd "$work/initramfs.cpio" "${shape[@]}" "$1" bench/busybox:1 true >/dev/null
}

# Interleaved, one VM at a time: container run i, then bare boot i with the same
# VM shape, so both halves see the same host load (the 2 cores are shared).
times=()
bares=()
colds=()
creates=()
for i in $(seq 1 "$n"); do
    b=$work/b$i
    t0=$EPOCHREALTIME
    mkbundle "$b"
    t1=$EPOCHREALTIME
    CONTAINER_RUNTIME_TRACE=1 "$rt" run "$b" </dev/null >/dev/null 2>"$work/err.$i" ||
        { cat "$work/err.$i" >&2; die "container run $i failed"; }
    t2=$EPOCHREALTIME
    grep -q 'warm start (template' "$work/err.$i" || { cat "$work/err.$i" >&2; die "container run $i was not a warm start"; }
    mkbundle "$b.cold"
    t3=$EPOCHREALTIME
    CONTAINER_WARM_START=0 CONTAINER_RUNTIME_TRACE=1 "$rt" run "$b.cold" </dev/null >/dev/null 2>"$work/cold.$i" ||
        { cat "$work/cold.$i" >&2; die "cold container run $i failed"; }
    t4=$EPOCHREALTIME
    rm -rf "$b.cold"
    cold=$(awk -v a="$t3" -v b="$t4" 'BEGIN { printf "%.3f", b - a }')
    t=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3f", b - a }')
    c=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    # "starting vmm (tcg, 1 vCPU, 1024 MiB)"
    read -r accel cpus mem < <(sed -n 's/.*starting vmm (\([a-z]*\), \([0-9]*\) vCPU, \([0-9]*\) MiB).*/\1 \2 \3/p' "$work/err.$i")
    [ -n "${mem:-}" ] || { cat "$work/err.$i" >&2; die "no VM shape in the shim's trace"; }
    rm -rf "$b"
    bare_accel=${BARE_ACCEL:-}
    [ -n "$bare_accel" ] || { [ "$accel" = kvm ] && bare_accel=kvm || bare_accel=tcg,thread=multi; }
    bare=$(BARE_ACCEL=$bare_accel BARE_SMP=$cpus BARE_MEM=$mem "$top/bench/boot/bare.sh" 1 2>"$work/bare.$i" |
        sed -n 's/^bare_boot_median_s=//p')
    [ -n "$bare" ] || { cat "$work/bare.$i" >&2; die "bench/boot/bare.sh printed no time"; }
    printf '# run %d: container %s s (cold %s s), bare %s s (bundle made in %s s)\n' "$i" "$t" "$cold" "$bare" "$c" >&2
    times+=("$t")
    colds+=("$cold")
    bares+=("$bare")
    creates+=("$c")
done
grep '^#' "$work/bare.$n" | grep -v '# boot' >&2 || true
printf '# container: accel %s, %s vCPU, %s MiB, busybox image, `true`; trace of the last run:\n' \
    "$accel" "$cpus" "$mem" >&2
sed 's/^/#   /' "$work/err.$n" >&2
printf '# the first run (made the template):\n' >&2
sed 's/^/#   /' "$work/err.0" >&2
printf '# the last cold run:\n' >&2
sed 's/^/#   /' "$work/cold.$n" >&2
median() { sort -n | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ct=$(printf '%s\n' "${times[@]}" | median)
bare=$(printf '%s\n' "${bares[@]}" | median)
echo "bundle_create_median_s=$(printf '%s\n' "${creates[@]}" | median)"
echo "container_run_median_s=$ct"
echo "bare_boot_median_s=$bare"
awk -v c="$ct" -v b="$bare" -v a="$accel" 'BEGIN { printf "ratio=%.3f (target <= 1.15, accel %s)\n", c / b, a }'
# The median of the per-pair ratios: each pair ran back to back under about the same load.
pr=$(for i in "${!times[@]}"; do awk -v c="${times[$i]}" -v b="${bares[$i]}" 'BEGIN { printf "%.3f\n", c / b }'; done | median)
echo "pair_ratio_median=$pr"
cold=$(printf '%s\n' "${colds[@]}" | median)
echo "container_cold_median_s=$cold"
awk -v c="$cold" -v b="$bare" 'BEGIN { printf "cold_ratio=%.3f\n", c / b }'
echo "template_create_s=$tmpl_s"
# The benchmark fails (exit 3) when the target is missed, after printing every figure.
awk -v c="$ct" -v b="$bare" 'BEGIN { exit !(c / b <= 1.15) }' ||
    { echo "bench/boot: FAILED: ratio above the 1.15 target" >&2; exit 3; }
