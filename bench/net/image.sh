#!/usr/bin/env bash
# bench/net/image.sh: the network benchmark's guest image, built once and cached under
# $CTR_CACHE/bench-net/<key>/ (key = hash of the inputs below), and prints that directory:
#   rootfs.ext4   debootstrap --variant=minbase --include=iperf3,iproute2,busybox bookworm,
#                 plus /www/index.html (612 bytes, the size of nginx's welcome page) and
#                 /bench-init (bench/net/guest-init.sh, the bare guest's PID 1), as an
#                 ext4 image (mke2fs -d): the bare guest's root disk
#   image.tar     that tree as a one-layer OCI archive named docker.io/library/ctr-bench-net:latest
#                 (Cmd sh), for `container image load`
# Needs root (debootstrap, ownership), debootstrap and the Debian mirror the first time.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CTR_CACHE=${CTR_CACHE:-/var/cache/container-test}
INCLUDE=iperf3,iproute2,busybox
die() { echo "bench/net/image.sh: $*" >&2; exit 1; }
for tool in debootstrap mke2fs jq gzip tar sha256sum; do
    command -v "$tool" >/dev/null || die "missing \`$tool\` (scripts/install-deps.sh installs it)"
done
# The debootstrap'd tree is keyed by the packages, the files derived from it also by
# guest-init.sh, so editing the init does not fetch Debian again.
PKEY=$(echo "bookworm minbase $INCLUDE v1" | sha256sum | cut -c1-12)
KEY=$( (echo "$PKEY v1"; cat "$TOP/bench/net/guest-init.sh") | sha256sum | cut -c1-12)
BASE=$CTR_CACHE/bench-net/rootfs-$PKEY
DIR=$CTR_CACHE/bench-net/$KEY
mkdir -p "$CTR_CACHE/bench-net"
exec 9>"$CTR_CACHE/bench-net/.lock"
flock 9
if [ -f "$DIR/done" ]; then
    echo "$DIR"
    exit 0
fi
if [ ! -f "$BASE/etc/debian_version" ]; then
    echo "bench/net: debootstrap --variant=minbase --include=$INCLUDE bookworm (cached in $BASE)" >&2
    rm -rf "$BASE.tmp"
    nice debootstrap --variant=minbase --include="$INCLUDE" bookworm "$BASE.tmp" \
        http://deb.debian.org/debian >"$CTR_CACHE/bench-net/debootstrap.log" 2>&1 ||
        die "debootstrap failed, see $CTR_CACHE/bench-net/debootstrap.log"
    rm -rf "$BASE.tmp/var/cache/apt/archives/"*.deb "$BASE.tmp/var/lib/apt/lists/"*
    mv "$BASE.tmp" "$BASE"
fi
rm -rf "$DIR.tmp"
mkdir -p "$DIR.tmp"
R=$DIR.tmp/rootfs
cp -a "$BASE" "$R"
mkdir -p "$R/www"
head -c 612 /dev/zero | tr '\0' 'x' >"$R/www/index.html"
install -m 0755 "$TOP/bench/net/guest-init.sh" "$R/bench-init"

# The bare guest's root disk: the tree plus 64 MiB of room.
kb=$(du -sk "$R" | cut -f1)
truncate -s $(((kb + 65536) * 1024)) "$DIR.tmp/rootfs.ext4"
mke2fs -q -t ext4 -d "$R" -L bench-net "$DIR.tmp/rootfs.ext4" || die "mke2fs -d failed"

# The container image: one gzip layer, OCI layout, tar'd for `image load`.
W=$DIR.tmp/oci
blobs=$W/blobs/sha256
mkdir -p "$blobs"
sha() { sha256sum "$1" | cut -c1-64; }
tar -C "$R" --numeric-owner --xattrs --sort=name -cf "$DIR.tmp/layer.tar" . || die "tar of the rootfs failed"
gzip -n -1 <"$DIR.tmp/layer.tar" >"$DIR.tmp/layer.tar.gz"
diff_id=$(sha "$DIR.tmp/layer.tar")
ld=$(sha "$DIR.tmp/layer.tar.gz")
mv "$DIR.tmp/layer.tar.gz" "$blobs/$ld"
rm "$DIR.tmp/layer.tar"
jq -cn --arg diff "sha256:$diff_id" '{created: "1970-01-01T00:00:00Z", architecture: "amd64", os: "linux",
    config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"]},
    rootfs: {type: "layers", diff_ids: [$diff]}}' | tr -d '\n' >"$W/config.json"
cd=$(sha "$W/config.json")
cs=$(stat -c %s "$W/config.json")
mv "$W/config.json" "$blobs/$cd"
jq -cn --arg cd "sha256:$cd" --argjson cs "$cs" --arg ld "sha256:$ld" --argjson ls "$(stat -c %s "$blobs/$ld")" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
    layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld, size: $ls}]}' |
    tr -d '\n' >"$W/manifest.json"
md=$(sha "$W/manifest.json")
ms=$(stat -c %s "$W/manifest.json")
mv "$W/manifest.json" "$blobs/$md"
jq -cn --arg md "sha256:$md" --argjson ms "$ms" '{schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
                 platform: {architecture: "amd64", os: "linux"},
                 annotations: {"org.opencontainers.image.ref.name": "latest",
                               "io.containerd.image.name": "docker.io/library/ctr-bench-net:latest"}}]}' \
    >"$W/index.json"
printf '{"imageLayoutVersion":"1.0.0"}\n' >"$W/oci-layout"
tar -C "$W" -cf "$DIR.tmp/image.tar" . || die "tar of the OCI layout failed"
rm -rf "$W" "$R"
touch "$DIR.tmp/done"
rm -rf "$DIR"
mv "$DIR.tmp" "$DIR"
echo "$DIR"
