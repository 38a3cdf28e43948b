#!/usr/bin/env bash
# Block volumes (`volume create -o type=block -o size=…`): an ext4 image attached as a
# virtio-blk disk, one running user at a time. The CLI against a real container-apiserver
# on a temp data root, busybox, VMs under TCG (at most two at a time, 256 MiB each).
# docs/volumes.md.
source "$(dirname "$0")/../lib.sh"
plan_start
source "$(dirname "$0")/45-cli-lib.bash"
cli_fixtures

cli_system_start
ctr image load -i "$T_TMP/busybox.tar"
check_eq "image load" 0 "$rc"

# ---- options, before any VM ----
ctr volume create -o type=block -o size=lots blk
check_eq "bad size refused" 1 "$rc"
check_contains "the message names the size" "$err" 'invalid size `lots`'
ctr volume create -o type=block blk
check_contains "a block volume without a size refused" "$err" "needs a size"
ctr volume create -o type=block,size=1k blk
check_contains "a tiny block volume refused" "$err" "out of range: use 16m"
ctr volume create -o size=1g blk
check_contains "size without type=block refused" "$err" 'needs `type=block`'
ctr volume ls -q
check_eq "no volume left by refused creates" "" "$out"

ctr volume create -o type=block -o size=64m blk
check_eq "block volume created" 0 "$rc"
ctr volume inspect blk
check_eq "inspect: kind" block "$(jq -r '.[0].Status.Kind' <<<"$out")"
check_eq "inspect: size" 67108864 "$(jq -r '.[0].Status.Size' <<<"$out")"
img=$(jq -r '.[0].Mountpoint' <<<"$out")
check_eq "the image is DATA/volumes/blk/volume.ext4" "$root/volumes/blk/volume.ext4" "$img"
check_eq "the image has the apparent size" 67108864 "$(stat -c %s "$img" 2>/dev/null)"
alloc=$(($(stat -c %b "$img" 2>/dev/null || echo 999999) * 512))
check "the image is sparse ($alloc bytes allocated)" test "$alloc" -lt $((16 << 20))

# ---- first container writes, the next one reads ----
ctr run --rm -m 256M -v blk:/data busybox sh -c \
    'grep " /data " /proc/mounts; ls -A /data | wc -l; echo persisted >/data/f; sync'
check_eq "run with a block volume exits 0" 0 "$rc"
check_contains "mounted as ext4 from a virtio disk" "$out" "/dev/vd"
check_contains "fstype ext4" "$out" " /data ext4 rw"
[ "$rc" -eq 0 ] || diag "$out" "$err"

ctr run -d --name holder -m 256M -v blk:/data busybox sh -c 'cat /data/f; sleep 600'
check_eq "holder started" 0 "$rc"
wait_for 120 sh -c "\"$C\" logs holder | grep -qx persisted"
check_eq "data written by one container is read by the next" persisted "$("$C" logs holder 2>&1)"

# ---- a second attachment while holder runs ----
ctr run --rm -m 256M -v blk:/data busybox true
check "second read-write attachment refused (rc $rc)" test "$rc" -ne 0
check_contains "the message names the volume and the container" "$err" \
    'block volume `blk` is attached by running container `holder`'
ctr run --rm -m 256M -v blk:/data:ro busybox true
check "read-only attachment beside a running writer refused (rc $rc)" test "$rc" -ne 0
check_contains "same message for :ro" "$err" 'block volume `blk` is attached by running container'
ctr volume rm blk
check_contains "volume rm of a block volume in use refused" "$err" 'volume `blk` is in use by container `holder`'
ctr rm -f holder
check_eq "holder removed" 0 "$rc"
for id in $("$C" ls -a -q); do "$C" rm -f "$id" >/dev/null 2>&1; done # refused runs' leftovers

# ---- after holder: attachable again, read-only ----
ctr run --rm -m 256M -v blk:/data:ro busybox sh -c 'cat /data/f; echo x >/data/g 2>/dev/null || echo RO'
check_eq "attachable again once holder is gone" 0 "$rc"; [ "$rc" -eq 0 ] || diag "$out" "$err"
check_eq "read-only mount sees the data and refuses writes" "persisted
RO" "$out"

ctr volume rm blk
check_eq "volume rm" 0 "$rc"
check "volume rm removes the image" test ! -e "$img"
plan_end
