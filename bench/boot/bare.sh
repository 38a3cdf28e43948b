#!/bin/bash
# bench/boot/bare.sh [N]
#
# Bare-QEMU half of the boot benchmark: boots the project's kernel under QEMU
# microvm N times (default 5) with an initramfs whose /init is
# bench/boot/trivial-init.c (print a marker, reboot at once) and prints the
# median wall time from QEMU's start to its exit:
#   bare_boot_median_s=X.XXX
# Per-run times and the accelerator go to stderr. The kernel command line is
# kernel/cmdline, plus under TCG `tsc_early_khz=` with the host's TSC rate
# (kernel/host-tsc-khz.c) and, with one vCPU, kernel/cmdline-tcg-1cpu; the
# QEMU arguments are the ones docs/kernel.md documents.
#
# Environment: CTR_KERNEL (vmlinux; default: kernel/build.sh's cached build),
# CTR_QEMU (default qemu-system-x86_64), BARE_ACCEL (default
# `tcg,thread=multi`), BARE_MEM (MiB, default 256), BARE_SMP (default 1),
# BARE_TIMEOUT (s per boot, default 60), BARE_GZIP=1 (gzip the initramfs).
set -euo pipefail

n=${1:-5}
[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [N]  (N >= 1 boots)" >&2; exit 2; }
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
qemu=${CTR_QEMU:-qemu-system-x86_64}
accel=${BARE_ACCEL:-tcg,thread=multi}
mem=${BARE_MEM:-256}
smp=${BARE_SMP:-1}
timeout_s=${BARE_TIMEOUT:-60}

die() { printf 'bare.sh: error: %s\n' "$*" >&2; exit 1; }
command -v "$qemu" > /dev/null || die "\`$qemu\` not found; install it with \`apt-get install qemu-system-x86\`"

kernel=${CTR_KERNEL:-}
if [ -z "$kernel" ]; then
    kernel=$("$top/kernel/build.sh" | tail -1) || die "kernel build failed; run \`kernel/build.sh\`"
fi
[ -f "$kernel" ] || die "kernel \`$kernel\` not found; build it with \`kernel/build.sh\` or set CTR_KERNEL"
cmdline=$(cat "$top/kernel/cmdline")

work=$(mktemp -d "${TMPDIR:-/tmp}/bare-boot.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [[ $accel == tcg* ]]; then
    cc -O2 -o "$work/host-tsc-khz" "$top/kernel/host-tsc-khz.c" || die "cannot build \`kernel/host-tsc-khz.c\`"
    cmdline="$cmdline tsc_early_khz=$("$work/host-tsc-khz")"
    [ "$smp" = 1 ] && cmdline="$cmdline $(cat "$top/kernel/cmdline-tcg-1cpu")"
fi
cc -static -Os -Wall -Wextra -Werror -o "$work/trivial-init" "$top/bench/boot/trivial-init.c" ||
    die "cannot build \`bench/boot/trivial-init.c\` statically (is libc6-dev installed?)"
gz=()
[ "${BARE_GZIP:-0}" = 1 ] && gz=(--gzip)
"$top/scripts/make-initramfs.sh" "${gz[@]}" "$work/initramfs.cpio" "$work/trivial-init"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
printf '# bare boot: %s, accel %s, -m %s -smp %s, kernel %s, host %s (%s cores)\n# cmdline: %s\n' \
    "$qemu" "$accel" "$mem" "$smp" "$kernel" "$cpu" "$(nproc)" "$cmdline" >&2

times=()
for i in $(seq 1 "$n"); do
    log=$work/console.$i.log
    t0=$EPOCHREALTIME
    rc=0
    timeout -k 5 "$timeout_s" "$qemu" -M microvm,acpi=off,x-option-roms=off -accel "$accel" -cpu max -m "$mem" -smp "$smp" \
        -nodefaults -no-user-config -nographic -no-reboot \
        -kernel "$kernel" -initrd "$work/initramfs.cpio" -append "$cmdline" \
        -serial stdio < /dev/null > "$log" 2>&1 || rc=$?
    t1=$EPOCHREALTIME
    if [ "$rc" -ne 0 ] || ! grep -q 'trivial-init: reached init' "$log"; then
        tail -20 "$log" >&2
        die "boot $i failed (exit $rc, accel \`$accel\`): the trivial init did not run; console above"
    fi
    t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    printf '# boot %d: %s s\n' "$i" "$t" >&2
    times+=("$t")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "bare_boot_median_s=$median"
