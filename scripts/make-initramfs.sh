#!/bin/bash
# make-initramfs.sh [--gzip] OUT.cpio INIT [EXTRA...]
#
# Writes a newc cpio initramfs whose /init is the static binary INIT, with the
# directories the guest init expects (/dev /proc /sys /run /tmp /mnt /sbin)
# and a /dev/console node, so PID 1 starts with stdio on the console.
# Each EXTRA is HOSTFILE[:GUESTPATH] (GUESTPATH defaults to /bin/<name>);
# missing parent directories are added. Uncompressed by default: under TCG it
# boots faster than gzip (docs/kernel.md); --gzip compresses it.
# Output is deterministic (mtime 0, uid/gid 0) and written atomically.
#
# Uses the kernel's usr/gen_init_cpio (built by kernel/build.sh; path from
# $CTR_GEN_INIT_CPIO or <repo>/build/kernel/gen_init_cpio), so no root is
# needed; without it, falls back to cpio(1) from a staging tree (root only,
# for the device node).
set -euo pipefail

die() { printf 'make-initramfs: error: %s\n' "$*" >&2; exit 1; }
usage() { echo "usage: $0 [--gzip] OUT.cpio INIT [HOSTFILE[:GUESTPATH]...]" >&2; exit 2; }

gzip=0
if [ "${1:-}" = --gzip ]; then gzip=1; shift; fi
[ $# -ge 2 ] || usage
out=$1 init=$2
shift 2
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

[ -f "$init" ] || die "init binary \`$init\` not found"
[ -x "$init" ] || die "init binary \`$init\` is not executable"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/make-initramfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# entries: "dir PATH", "file PATH HOSTFILE MODE"; parent dirs come first.
declare -A have_dir=()
entries=()
add_dir() {
    local d=$1
    [ "$d" = / ] && return 0
    [ -n "${have_dir[$d]:-}" ] && return 0
    add_dir "$(dirname "$d")"
    have_dir[$d]=1
    entries+=("dir $d")
}
add_file() {
    local host=$1 guest=$2 mode
    case $host$guest in *[[:space:]]*) die "paths with spaces are not supported: \`$host\` -> \`$guest\`" ;; esac
    [ -f "$host" ] || die "file \`$host\` not found"
    case $guest in /*) ;; *) die "guest path \`$guest\` must be absolute" ;; esac
    mode=$(stat -L -c '%a' "$host")
    add_dir "$(dirname "$guest")"
    entries+=("file $guest $(realpath "$host") $mode")
}

for d in /dev /proc /sys /run /tmp /mnt /sbin; do add_dir "$d"; done
add_file "$init" /init
for extra in "$@"; do
    host=${extra%%:*}
    if [ "$host" = "$extra" ]; then guest=/bin/$(basename "$host"); else guest=${extra#*:}; fi
    add_file "$host" "$guest"
done

gen=${CTR_GEN_INIT_CPIO:-$top/build/kernel/gen_init_cpio}
cpio_out=$tmp/initramfs.cpio
if [ -x "$gen" ]; then
    {
        for e in "${entries[@]}"; do
            set -- $e
            case $1 in
            dir) echo "dir $2 $([ "$2" = /tmp ] && echo 1777 || echo 0755) 0 0" ;;
            file) echo "file $2 $3 $4 0 0" ;;
            esac
        done
        echo "nod /dev/console 0600 0 0 c 5 1"
    } > "$tmp/list"
    "$gen" -t 0 "$tmp/list" > "$cpio_out" || die "\`$gen\` failed on the file list"
elif [ "$(id -u)" = 0 ] && command -v cpio > /dev/null; then
    root=$tmp/root
    mkdir "$root"
    for e in "${entries[@]}"; do
        set -- $e
        case $1 in
        dir) mkdir -p "$root$2"; chmod "$([ "$2" = /tmp ] && echo 1777 || echo 0755)" "$root$2" ;;
        file) cp "$3" "$root$2"; chmod "$4" "$root$2" ;;
        esac
    done
    mknod -m 0600 "$root/dev/console" c 5 1
    find "$root" -exec touch -h -d @0 {} +
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) > "$cpio_out" ||
        die "cpio failed"
else
    die "\`$gen\` not found; build the kernel first with \`kernel/build.sh\` (or set CTR_GEN_INIT_CPIO), or run as root with cpio installed"
fi

if [ "$gzip" = 1 ]; then
    gzip -n -9 < "$cpio_out" > "$cpio_out.gz"
    mv "$cpio_out.gz" "$cpio_out"
fi
mkdir -p "$(dirname "$out")"
cp "$cpio_out" "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
