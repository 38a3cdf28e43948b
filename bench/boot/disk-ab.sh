#!/bin/bash
# bench/boot/disk-ab.sh [N] [VARIANT...]
#
# What the ext4 features of the container's two disks cost in the boot of a
# container: N interleaved `container-runtime run` of a fresh busybox bundle
# running `true` per variant (variant 1 run 1, variant 2 run 1, ...), each
# bundle made by `ctr-prepare bundle` as `container run` makes it and then
# changed with tune2fs:
#   csum       as made (metadata_csum, 64 MiB journal on the writable disk)
#   nocsum     metadata_csum off on both disks (tune2fs turns on uninit_bg)
#   journal4m  writable disk with a 4 MiB journal instead of 64 MiB
#   nojournal  writable disk without a journal
#   noprefetch both disks with `no_prefetch_block_bitmaps` in the superblock's
#              default mount options (no ext4lazyinit bitmap prefetch)
# Default variants: csum nocsum journal4m nojournal. The guest boots with
# `loglevel=7`, so its console (the bundle's boot.log) has the kernel's
# timestamps of both ext4 mounts. Per run (stderr) and as medians (stdout):
#   wall     container-runtime run, host wall clock
#   cpu      user+sys of the runtime and QEMU (less sensitive to the other
#            engineers' load than the wall time; still noisy)
#   setup    host trace: agent setup reply - agent hello reply
#   lower    guest clock: Run /init -> image disk (vda) mounted
#   upper    guest clock: vda mounted -> writable disk (vdb) mounted
#   rest     guest clock: vdb mounted -> vdb remounted read-only at power-off
# Results are in docs/performance.md ("Container boot"). One VM at a time.
# Environment: CTR_KERNEL, BUILD as for run.sh.
set -euo pipefail

n=${1:-9}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N] [VARIANT...]" >&2; exit 2; }
shift || true
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(csum nocsum journal4m nojournal)
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD:-$top/build}
die() { printf 'disk-ab.sh: error: %s\n' "$*" >&2; exit 1; }
for v in "${variants[@]}"; do
    case $v in csum | nocsum | journal4m | nojournal | noprefetch) ;; *) die "unknown variant \`$v\`" ;; esac
done
for b in container-runtime ctr-prepare vminitd; do
    [ -x "$build/bin/$b" ] || die "\`$build/bin/$b\` not built; run \`make\`"
done
for t in jq tune2fs /usr/bin/time; do
    command -v "$t" >/dev/null || die "\`$t\` is required; install it with apt-get"
done
kernel=${CTR_KERNEL:-}
[ -n "$kernel" ] || kernel=$("$top/kernel/build.sh" | tail -1) || die "kernel build failed"

work=$(mktemp -d "${TMPDIR:-/tmp}/disk-ab.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$top/scripts/make-initramfs.sh" "$work/initramfs.cpio" "$build/bin/vminitd" >/dev/null
"$top/scripts/make-busybox-image.sh" "$work/oci" >/dev/null
"$build/bin/ctr-prepare" load --root "$work/data" "$work/oci" --name bench/busybox:1 >/dev/null
mkbundle() {
    "$build/bin/ctr-prepare" bundle --root "$work/data" --kernel "$kernel" \
        --initrd "$work/initramfs.cpio" "$1" bench/busybox:1 true >/dev/null
}
mkbundle "$work/b0"
cp --sparse=always "$(jq -r '.disks[0].path' "$work/b0/config.json")" "$work/image-nocsum.ext4"
tune2fs -O ^metadata_csum "$work/image-nocsum.ext4" >/dev/null 2>&1 || die "tune2fs failed"
cp --sparse=always "$(jq -r '.disks[0].path' "$work/b0/config.json")" "$work/image-noprefetch.ext4"
tune2fs -E mount_opts=no_prefetch_block_bitmaps "$work/image-noprefetch.ext4" >/dev/null 2>&1 ||
    die "tune2fs failed"
rm -rf "$work/b0"

tune() { tune2fs "$@" >/dev/null 2>&1 || die "\`tune2fs $*\` failed"; }
jqset() { jq "$@" "$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"; }
# the kernel's timestamp of the first console line containing $1
stamp() { awk -v m="$1" 'index($0, m) { sub(/^\[ */, ""); sub(/\].*/, ""); print; exit }' "$b/boot.log"; }
out=$work/results
for i in $(seq 1 "$n"); do
    for v in "${variants[@]}"; do
        b=$work/$v.$i
        mkbundle "$b"
        rw=$b/disks/rw.ext4
        case $v in
        nocsum) tune -O ^metadata_csum "$rw"
            # shellcheck disable=SC2016 # $p is jq's
            jqset --arg p "$work/image-nocsum.ext4" '.disks[0].path = $p' ;;
        journal4m) tune -O ^has_journal "$rw"; tune -J size=4 "$rw" ;;
        nojournal) tune -O ^has_journal "$rw" ;;
        noprefetch) tune -E mount_opts=no_prefetch_block_bitmaps "$rw"
            # shellcheck disable=SC2016 # $p is jq's
            jqset --arg p "$work/image-noprefetch.ext4" '.disks[0].path = $p' ;;
        esac
        jqset '.vm.cmdline = "loglevel=7"'
        t0=$EPOCHREALTIME
        /usr/bin/time -f '%U %S' -o "$work/time" env CONTAINER_RUNTIME_TRACE=1 \
            "$build/bin/container-runtime" run "$b" </dev/null >/dev/null 2>"$work/err" ||
            { cat "$work/err" >&2; die "container run ($v, run $i) failed"; }
        t1=$EPOCHREALTIME
        hello=$(sed -n 's/.*+\([0-9.]*\)s agent hello reply.*/\1/p' "$work/err")
        setup=$(sed -n 's/.*+\([0-9.]*\)s agent setup reply.*/\1/p' "$work/err")
        init=$(stamp 'Run /init') vda=$(stamp 'EXT4-fs (vda): mounted')
        vdb=$(stamp 'EXT4-fs (vdb): mounted') ro=$(stamp 'EXT4-fs (vdb): re-mounted')
        if [ -z "$init" ] || [ -z "$vda" ] || [ -z "$vdb" ] || [ -z "$ro" ]; then
            cat "$b/boot.log" >&2
            die "no ext4 mount timestamps in the boot log ($v, run $i)"
        fi
        awk -v v="$v" -v t0="$t0" -v t1="$t1" -v h="$hello" -v s="$setup" -v i="$init" -v a="$vda" \
            -v b="$vdb" -v r="$ro" -v c="$(awk '{ print $1 + $2 }' "$work/time")" 'BEGIN {
            printf "%s wall=%.3f cpu=%.3f setup=%.4f lower=%.4f upper=%.4f rest=%.4f\n",
                v, t1 - t0, c, s - h, a - i, b - a, r - b }' | tee -a "$out" >&2
        rm -rf "$b"
    done
    printf '# load average %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
median() { sort -n | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%.4f", v[(NR + 1) / 2]; else printf "%.4f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for v in "${variants[@]}"; do
    printf '%s' "$v"
    for f in wall cpu setup lower upper rest; do
        printf ' %s=%s' "$f" "$(awk -v v="$v" -v f="$f=" '$1 == v { for (i = 2; i <= NF; i++)
            if (index($i, f) == 1) print substr($i, length(f) + 1) }' "$out" | median)"
    done
    printf '  (median of %d)\n' "$n"
done
