#!/bin/bash
# Unpack benchmark: the same realistic multi-layer image (a debootstrap'd
# Debian minbase split into 4 gzip layers) turned into a root filesystem three
# ways in one run, each REPS times (default 3), medians printed side by side:
#   ours      container-unpack -o image.ext4 L1 L2 L3 L4 (and again with --shrink)
#   tar+mke2fs  tar -xzf each layer into a directory, then mke2fs -t ext4 -d
#   umoci     umoci unpack of an OCI layout holding the same layers (directory only)
# The rootfs and the layers are cached under $CTR_CACHE/bench-unpack. Needs
# root (debootstrap, ownership), debootstrap, umoci and the Debian mirror of
# /etc/apt/sources.list(.d). Usage: bench/unpack/run.sh [REPS]
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
REPS=${1:-3}
CTR_CACHE=${CTR_CACHE:-/var/cache/container-test}
CACHE=$CTR_CACHE/bench-unpack
BUILD=${BUILD:-$TOP/build}
U=$BUILD/bin/container-unpack
SUITE=${BENCH_SUITE:-bookworm}
die() { echo "bench/unpack: $*" >&2; exit 1; }

[ -x "$U" ] || die "build container-unpack first (make)"
for c in debootstrap umoci mke2fs tar gzip jq sha256sum; do
    command -v "$c" > /dev/null || die "\`$c\` is missing (see scripts/install-deps.sh)"
done
mirror=${BENCH_MIRROR:-$(grep -hoE '^URIs: *http[^ ]*debian/?$' /etc/apt/sources.list.d/*.sources 2> /dev/null | head -1 | sed 's/^URIs: *//')}
mirror=${mirror:-$(grep -hoE '^deb +http[^ ]+' /etc/apt/sources.list 2> /dev/null | head -1 | awk '{print $2}')}
mkdir -p "$CACHE"

# --- the rootfs, once ---
if [ ! -f "$CACHE/rootfs.done" ]; then
    [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list(.d)"
    echo "bench/unpack: debootstrap --variant=minbase $SUITE from $mirror (once)" >&2
    rm -rf "$CACHE/rootfs"
    debootstrap --variant=minbase "$SUITE" "$CACHE/rootfs" "$mirror" > "$CACHE/debootstrap.log" 2>&1 ||
        die "debootstrap failed, see $CACHE/debootstrap.log"
    rm -rf "$CACHE/rootfs/var/cache/apt/archives/"*.deb "$CACHE/layers"
    touch "$CACHE/rootfs.done"
fi

# --- 4 layers partitioning the rootfs (no whiteouts: tar -x must give the same tree) ---
L=$CACHE/layers
if [ ! -f "$L/done" ]; then
    rm -rf "$L" && mkdir -p "$L"
    r=$CACHE/rootfs
    topt=(--numeric-owner --xattrs --xattrs-include='*' --sort=name --format=pax)
    tar "${topt[@]}" -C "$r" -czf "$L/1.tar.gz" ./usr/lib
    tar "${topt[@]}" -C "$r" -czf "$L/2.tar.gz" ./usr/bin ./usr/sbin
    tar "${topt[@]}" -C "$r" -czf "$L/3.tar.gz" ./usr/share
    tar "${topt[@]}" -C "$r" --exclude=./usr/lib --exclude=./usr/bin --exclude=./usr/sbin \
        --exclude=./usr/share -czf "$L/4.tar.gz" .
    # an OCI layout with the same layers, for umoci
    o=$L/oci
    mkdir -p "$o/blobs/sha256"
    echo '{"imageLayoutVersion":"1.0.0"}' > "$o/oci-layout"
    layers_json="" diffs_json=""
    for i in 1 2 3 4; do
        d=$(sha256sum < "$L/$i.tar.gz" | cut -c1-64)
        cp "$L/$i.tar.gz" "$o/blobs/sha256/$d"
        diff=$(gzip -dc "$L/$i.tar.gz" | sha256sum | cut -c1-64)
        layers_json+="${layers_json:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$(stat -c %s "$L/$i.tar.gz")}"
        diffs_json+="${diffs_json:+,}\"sha256:$diff\""
    done
    cfg="{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diffs_json]}}"
    cd_=$(printf '%s' "$cfg" | sha256sum | cut -c1-64)
    printf '%s' "$cfg" > "$o/blobs/sha256/$cd_"
    man="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cd_\",\"size\":${#cfg}},\"layers\":[$layers_json]}"
    md=$(printf '%s' "$man" | sha256sum | cut -c1-64)
    printf '%s' "$man" > "$o/blobs/sha256/$md"
    echo "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$md\",\"size\":${#man},\"annotations\":{\"org.opencontainers.image.ref.name\":\"bench\"}}]}" > "$o/index.json"
    touch "$L/done"
fi

W=$(mktemp -d "${TMPDIR:-/var/tmp}/bench-unpack.XXXXXX")
trap 'rm -rf "$W"' EXIT
layers=("$L"/1.tar.gz "$L"/2.tar.gz "$L"/3.tar.gz "$L"/4.tar.gz)
raw=$(for f in "${layers[@]}"; do gzip -dc "$f"; done | wc -c)
files=$(for f in "${layers[@]}"; do tar -tzf "$f"; done | wc -l)
now() { date +%s.%N; }
declare -A T
run() { # NAME CMD...: time CMD, append seconds to T[NAME]
    local name=$1 t0 t1
    shift
    sync
    t0=$(now)
    "$@" > "$W/$name.out" 2>&1 || { cat "$W/$name.out" >&2; die "$name failed"; }
    t1=$(now)
    T[$name]+="$(echo "$t1 - $t0" | bc) "
}
ours() { "$U" -o "$W/ours.ext4" "${layers[@]}"; }
ours_shrink() { "$U" -o "$W/ours.ext4" --shrink "${layers[@]}"; }
tar_mke2fs() {
    mkdir "$W/dir"
    for f in "${layers[@]}"; do tar --numeric-owner --xattrs --xattrs-include='*' -C "$W/dir" -xzf "$f"; done
    mke2fs -q -F -t ext4 -d "$W/dir" "$W/mke2fs.ext4" "$SIZE_K"k
}
umoci_unpack() { umoci unpack --image "$L/oci:bench" "$W/bundle"; }

# size for mke2fs: what ours needed, so both write the same file system size
"$U" -o "$W/probe.ext4" -v "${layers[@]}" 2> "$W/probe.err"
SIZE_K=$(($(stat -c %s "$W/probe.ext4") / 1024))
rm -f "$W/probe.ext4"
for i in $(seq "$REPS"); do
    run ours ours
    rm -f "$W/ours.ext4"
    run ours+shrink ours_shrink
    SHRUNK=$(stat -c %s "$W/ours.ext4")
    rm -f "$W/ours.ext4"
    run tar+mke2fs tar_mke2fs
    rm -rf "$W/dir" "$W/mke2fs.ext4"
    run umoci umoci_unpack
    rm -rf "$W/bundle"
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m_ours=$(echo "${T[ours]}" | median)
printf '\nbench/unpack: Debian %s minbase, %d layers (%s MB gzip, %s MB tar, %d entries), %d runs each, median\n' \
    "$SUITE" ${#layers[@]} "$(du -cm "${layers[@]}" | tail -1 | cut -f1)" "$((raw / 1000000))" "$files" "$REPS"
printf '%-12s %10s %12s\n' method seconds "vs ours"
for m in ours ours+shrink tar+mke2fs umoci; do
    med=$(echo "${T[$m]}" | median)
    printf '%-12s %10.2f %11.2fx\n' "$m" "$med" "$(echo "$med / $m_ours" | bc -l)"
done
printf '(ours = container-unpack to ext4, %d MiB image, %d MiB after --shrink; tar+mke2fs' "$((SIZE_K / 1024))" "$((SHRUNK / 1048576))"
printf ' = tar -xzf to a directory + mke2fs -t ext4 -d; umoci = umoci unpack, directory only)\n'
grep -E 'container-unpack: .*attempt' "$W/probe.err" | sed 's/^/ours: /' || true
