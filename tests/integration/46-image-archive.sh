#!/usr/bin/env bash
# Image archives made by other tools load and run: a docker-archive written by
# `skopeo copy ... docker-archive:` (what `docker save` / `podman save
# --format docker-archive` write) and an OCI archive, loaded through
# `container image load`, then run in a microVM.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start

command -v skopeo >/dev/null || need "skopeo missing (apt-get install skopeo)"
[ -x "$BIN/container" ] || need "container CLI not built (run make)"
daemon_fixtures
daemon_start || need "container-apiserver did not start"
C() { timeout -k 5 120 "$BIN/container" --socket "$SOCK" "$@"; }

# A docker-archive as skopeo (containers/image, shared with podman) writes it.
skopeo copy -q "oci:$T_TMP/oci:latest" "docker-archive:$T_TMP/dockerarchive.tar:example.test/skopeo/busybox:v1" \
    2>"$T_TMP/skopeo.err" || need "skopeo could not write a docker-archive: $(tail -2 "$T_TMP/skopeo.err")"
check "skopeo's tarball is a docker-archive (manifest.json at its root)" \
    sh -c "tar -tf '$T_TMP/dockerarchive.tar' | grep -qx manifest.json"
out=$(C image load -i "$T_TMP/dockerarchive.tar" 2>&1)
check_contains "container image load reads the docker-archive" "$out" "example.test/skopeo/busybox:v1"
out=$(C run --rm example.test/skopeo/busybox:v1 echo from-docker-archive 2>&1)
check_eq "the loaded docker-archive image runs" "from-docker-archive" "$out"
diff_ids=$(C image inspect example.test/skopeo/busybox:v1 2>/dev/null | jq -r '.[0].RootFS.Layers[0]')
expected=$(jq -r '.rootfs.diff_ids[0]' "$T_TMP/oci/blobs/sha256/$(jq -r '.config.digest' \
    "$T_TMP/oci/blobs/sha256/$(jq -r '.manifests[0].digest' "$T_TMP/oci/index.json" | cut -d: -f2)" | cut -d: -f2)")
check_eq "its layer diff id is the original's" "$expected" "$diff_ids"

# An OCI archive (a tar of an OCI layout) as skopeo writes it.
skopeo copy -q "oci:$T_TMP/oci:latest" "oci-archive:$T_TMP/oci-archive.tar:example.test/oci/busybox:v2" \
    2>"$T_TMP/skopeo2.err" || need "skopeo could not write an oci-archive: $(tail -2 "$T_TMP/skopeo2.err")"
out=$(C image load -i "$T_TMP/oci-archive.tar" 2>&1)
check "container image load reads skopeo's oci-archive" test -n "$out"
name=$(C image ls -q 2>/dev/null | grep -m1 'oci/busybox')
if [ -n "$name" ]; then
    out=$(C run --rm "$name" echo from-oci-archive 2>&1)
    check_eq "the loaded oci-archive image runs" "from-oci-archive" "$out"
else
    not_ok "the loaded oci-archive image is listed"
    diag "$(C image ls 2>&1)"
fi

# Garbage is refused with a clear message and changes nothing.
head -c 4096 /dev/urandom >"$T_TMP/garbage.tar"
before=$(C image ls -q 2>/dev/null | sort)
out=$(C image load -i "$T_TMP/garbage.tar" 2>&1)
rc=$?
check "loading garbage fails" test "$rc" -ne 0
check_contains "with a message" "$out" "archive"
check_eq "and the image list is unchanged" "$before" "$(C image ls -q 2>/dev/null | sort)"

plan_end
