#!/bin/bash
# Build the guest kernel: an uncompressed PVH `vmlinux` from Debian's
# linux-source-6.1 with kernel/config.fragment merged onto `tinyconfig`.
#
# The result is cached outside the work tree, keyed by the sha256 of
# (config.fragment, this script, the linux-source package version):
#   ${CTR_KERNEL_CACHE:-/var/cache/container-kernel}/<key>/{vmlinux,config,gen_init_cpio}
# and linked from <repo>/build/kernel/. A cached build returns at once.
# The last line on stdout is the path of the vmlinux; progress goes to stderr.
#
# Environment: CTR_KERNEL_CACHE (cache root), CTR_KERNEL_JOBS (make -j),
# CTR_KERNEL_LINK_DIR (where to link the results; default <repo>/build/kernel).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
fragment=$here/config.fragment
pkg=linux-source-6.1
tarball=/usr/src/$pkg.tar.xz
cache=${CTR_KERNEL_CACHE:-/var/cache/container-kernel}
link_dir=${CTR_KERNEL_LINK_DIR:-$top/build/kernel}
jobs=${CTR_KERNEL_JOBS:-$(nproc)}
kmake=(make ARCH=x86_64)

say() { printf 'kernel: %s\n' "$*" >&2; }
die() { printf 'kernel: error: %s\n' "$*" >&2; exit 1; }

ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) ||
    die "package \`$pkg\` is not installed; install it with \`apt-get install $pkg\`"
[ -r "$tarball" ] || die "\`$tarball\` is missing; reinstall it with \`apt-get install --reinstall $pkg\`"

key=$( { cat "$fragment" "$here/build.sh"; printf '%s %s\n' "$pkg" "$ver"; } | sha256sum | cut -c1-64)
out=$cache/$key

publish() {
    mkdir -p "$link_dir"
    local f
    for f in vmlinux config gen_init_cpio; do ln -sfn "$out/$f" "$link_dir/$f"; done
    printf '%s\n' "$out/vmlinux"
}

# check_config CONFIG: every assignment of the fragment must hold in CONFIG.
check_config() {
    local config=$1 bad=() line sym
    while IFS= read -r line; do
        case $line in
        CONFIG_*=*)
            grep -qxF -- "$line" "$config" || bad+=("$line (got: $(grep -E "^(# )?${line%%=*}[= ]" "$config" || echo 'absent'))")
            ;;
        "# CONFIG_"*" is not set")
            sym=${line#\# }; sym=${sym%% *}
            if grep -qE "^$sym=" "$config"; then bad+=("$line (got: $(grep -E "^$sym=" "$config"))"); fi
            ;;
        esac
    done < "$fragment"
    if [ ${#bad[@]} -gt 0 ]; then
        printf 'kernel: error: option dropped or changed by kconfig: %s\n' "${bad[@]}" >&2
        return 1
    fi
}

if [ -f "$out/vmlinux" ] && [ -f "$out/config" ]; then
    publish
    exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/$key.lock"
say "waiting for the build lock \`$cache/$key.lock\`"
flock 9
if [ -f "$out/vmlinux" ] && [ -f "$out/config" ]; then
    publish
    exit 0
fi

# One extracted source tree per package version, shared by all configs
# (builds are out of tree, so the source stays clean).
src=$cache/src-$ver
if [ ! -f "$src/Makefile" ]; then
    exec 8>"$cache/src-$ver.lock"
    flock 8
    if [ ! -f "$src/Makefile" ]; then
        say "extracting \`$tarball\` into \`$src\`"
        tmp=$(mktemp -d "$cache/src-$ver.tmp.XXXXXX")
        nice tar -xf "$tarball" -C "$tmp"
        rm -rf "$src"
        mv "$tmp/$pkg" "$src"
        rmdir "$tmp"
    fi
    exec 8>&-
fi

obj=$out/build
# A new config starts from a copy of the newest finished build of the same
# source: kbuild then recompiles only what the changed options touch.
# CTR_KERNEL_CLEAN=1 builds from scratch.
if [ ! -d "$obj" ] && [ "${CTR_KERNEL_CLEAN:-0}" != 1 ]; then
    seed=$(ls -1dt "$cache"/*/source-version 2>/dev/null | while read -r f; do
        d=$(dirname "$f")
        [ "$(cat "$f")" = "$ver" ] && [ -f "$d/vmlinux" ] && [ -d "$d/build" ] && { echo "$d/build"; break; }
    done || true)
    if [ -n "$seed" ]; then
        say "seeding the build tree from \`$seed\`"
        mkdir -p "$out"
        rm -rf "$obj.tmp"
        cp -a "$seed" "$obj.tmp" && mv "$obj.tmp" "$obj"
    fi
fi
mkdir -p "$obj"
say "configuring in \`$obj\`"
"${kmake[@]}" -s -C "$src" O="$obj" tinyconfig >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$fragment" >/dev/null
"${kmake[@]}" -s -C "$src" O="$obj" olddefconfig >&2
check_config "$obj/.config" || die "fix kernel/config.fragment (see \`$obj/.config\`)"

start=$(date +%s)
say "building vmlinux with -j$jobs (several minutes; log: \`$out/build.log\`)"
if ! nice "${kmake[@]}" -C "$src" O="$obj" -j"$jobs" vmlinux > "$out/build.log" 2>&1; then
    tail -30 "$out/build.log" >&2
    die "kernel build failed; full log in \`$out/build.log\`"
fi
check_config "$obj/.config" || die "fix kernel/config.fragment (see \`$obj/.config\`)"
say "built in $(( $(date +%s) - start )) s"

# gen_init_cpio lets scripts/make-initramfs.sh write /dev/console without root.
[ -x "$obj/usr/gen_init_cpio" ] || "${kmake[@]}" -s -C "$src" O="$obj" usr/gen_init_cpio >&2
cp "$obj/usr/gen_init_cpio" "$out/gen_init_cpio.tmp" && mv "$out/gen_init_cpio.tmp" "$out/gen_init_cpio"
cp "$obj/.config" "$out/config.tmp" && mv "$out/config.tmp" "$out/config"
printf '%s\n' "$ver" > "$out/source-version"
cp "$obj/vmlinux" "$out/vmlinux.tmp" && mv "$out/vmlinux.tmp" "$out/vmlinux"
publish
