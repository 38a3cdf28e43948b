#!/bin/bash
# make-busybox-image.sh OUTDIR [TAG] [NAME]
#
# Makes a small OCI image layout from Debian's busybox-static: one gzip layer
# with /bin/busybox, a symlink per applet at its usual place
# (`busybox --list-full`), /etc/passwd and /etc/group (root, nobody, and
# `app` uid 1000 gid 1000 with the supplementary groups `wheel` (10) and
# `users` (100)), /tmp (1777), /root, /home/app and empty mount points.
# The image config has PATH in Env and Cmd ["sh"]. TAG (default `latest`) is
# the `org.opencontainers.image.ref.name` annotation in index.json; NAME (a full
# reference such as `docker.io/library/busybox:latest`) is added as the
# `io.containerd.image.name` annotation, which `container image load` and
# `docker load` name the image by.
#
# The output is deterministic (mtime 0, sorted entries, `gzip -n`), so its
# digests only change with the busybox-static package. Needs no root.
# OUTDIR is replaced as a whole; the manifest digest is printed on stdout.
set -euo pipefail

die() { printf 'make-busybox-image: error: %s\n' "$*" >&2; exit 1; }
[ $# -ge 1 ] && [ $# -le 3 ] || { echo "usage: $0 OUTDIR [TAG] [NAME]" >&2; exit 2; }
outdir=${1%/}
tag=${2:-latest}
name=${3:-}
busybox=${CTR_BUSYBOX:-/bin/busybox}

[[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$ ]] || die "tag \`$tag\` is not a valid image tag"
[ -x "$busybox" ] || die "\`$busybox\` not found; install it with \`apt-get install busybox-static\`"
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
    ldd "$busybox" 2>&1 | grep -q 'not a dynamic executable' ||
    die "\`$busybox\` is not statically linked; install \`busybox-static\`"
for tool in jq gzip tar sha256sum; do
    command -v "$tool" > /dev/null || die "\`$tool\` is required; install it with apt-get"
done
bbver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || "$busybox" 2>&1 | head -1)

umask 022
work=$(mktemp -d "${TMPDIR:-/tmp}/make-busybox-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,run,var,tmp,root,home/app}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
cp "$busybox" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
"$busybox" --list-full | LC_ALL=C sort | while IFS= read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -s /bin/busybox "$root/$applet"
done
cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
wheel:x:10:app
users:x:100:app
nogroup:x:65534:
app:x:1000:
EOF
chmod 0644 "$root/etc/passwd" "$root/etc/group"

# Everything is owned by root except /home/app, appended with its own owner.
tar_det=(tar --format=ustar --sort=name --mtime=@0 --numeric-owner --no-acls --no-xattrs --no-selinux -C "$root")
layer_tar=$work/layer.tar
# Entry names carry no `./` prefix, as in images that docker builds.
top_entries=$(cd "$root" && LC_ALL=C ls -A)
"${tar_det[@]}" --owner=0 --group=0 --exclude=home/app -cf "$layer_tar" $top_entries
"${tar_det[@]}" --owner=1000 --group=1000 -rf "$layer_tar" home/app
gzip -n -9 < "$layer_tar" > "$work/layer.tar.gz"

sha() { sha256sum "$1" | cut -c1-64; }
size() { stat -c %s "$1"; }
blobs=$work/out/blobs/sha256
mkdir -p "$blobs"
diff_id=$(sha "$layer_tar")
layer_digest=$(sha "$work/layer.tar.gz")
mv "$work/layer.tar.gz" "$blobs/$layer_digest"

jq -cn --arg diff "sha256:$diff_id" --arg by "make-busybox-image.sh: busybox-static $bbver" '{
    created: "1970-01-01T00:00:00Z", architecture: "amd64", os: "linux",
    config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sh"]},
    rootfs: {type: "layers", diff_ids: [$diff]},
    history: [{created: "1970-01-01T00:00:00Z", created_by: $by}]
}' | tr -d '\n' > "$work/config.json"
config_digest=$(sha "$work/config.json")
config_size=$(size "$work/config.json")
mv "$work/config.json" "$blobs/$config_digest"

jq -cn --arg cd "sha256:$config_digest" --argjson cs "$config_size" \
    --arg ld "sha256:$layer_digest" --argjson ls "$(size "$blobs/$layer_digest")" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
    layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld, size: $ls}]
}' | tr -d '\n' > "$work/manifest.json"
manifest_digest=$(sha "$work/manifest.json")
manifest_size=$(size "$work/manifest.json")
mv "$work/manifest.json" "$blobs/$manifest_digest"

jq -cn --arg md "sha256:$manifest_digest" --argjson ms "$manifest_size" --arg tag "$tag" --arg name "$name" '{
    schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
                 platform: {architecture: "amd64", os: "linux"},
                 annotations: ({"org.opencontainers.image.ref.name": $tag}
                               + (if $name == "" then {} else {"io.containerd.image.name": $name} end))}]
}' > "$work/out/index.json"
printf '{"imageLayoutVersion":"1.0.0"}\n' > "$work/out/oci-layout"

mkdir -p "$(dirname "$outdir")"
rm -rf "$outdir.old.$$"
[ -e "$outdir" ] && mv "$outdir" "$outdir.old.$$"
mv "$work/out" "$outdir"
rm -rf "$outdir.old.$$"
echo "sha256:$manifest_digest"
