#!/usr/bin/env bash
# A container killed mid-write loses nothing it had synced to a volume: a writer
# appends numbered fixed-size records to a named (9p) volume and a block (ext4,
# virtio-blk) volume, each written with `dd conv=fsync` and acknowledged on stdout
# only after the fsync returned; its QEMU gets SIGKILL mid-loop; a new container
# then finds every acknowledged record intact, and a big synced file whole.
# The CLI against a real container-apiserver on a temp data root, busybox, VMs
# under TCG (one at a time, 256 MiB). docs/volumes.md.
source "$(dirname "$0")/../lib.sh"
plan_start
source "$(dirname "$0")/45-cli-lib.bash"
cli_fixtures
command -v pgrep >/dev/null || need "pgrep missing (apt-get install procps)"

cli_system_start
ctr image load -i "$T_TMP/busybox.tar"
check_eq "image load" 0 "$rc"
ctr volume create crashdir
check_eq "named directory volume" 0 "$rc"
ctr volume create -o type=block -o size=64m crashblk
check_eq "block volume" 0 "$rc"

# Record i: 64 bytes at offset 64*i, "record i" padded; a 4 MiB random file with its
# checksum first, then records until killed. Each ack follows both fsyncs.
writer='
for v in /d /b; do
    dd if=/dev/urandom of=$v/big bs=1M count=4 conv=fsync 2>/dev/null || exit 3
    sha256sum $v/big | cut -d" " -f1 >$v/big.sum
    dd if=$v/big.sum of=$v/big.sum.synced conv=fsync 2>/dev/null || exit 3
done
echo big synced
i=1
while :; do
    for v in /d /b; do
        printf "%-63s\n" "record $i" | dd of=$v/log bs=64 seek=$i count=1 conv=notrunc,fsync 2>/dev/null || exit 4
    done
    echo "synced $i"
    i=$((i + 1))
done'
ctr run -d --name writer -m 256M -v crashdir:/d -v crashblk:/b busybox sh -c "$writer"
check_eq "writer started" 0 "$rc"
id=$out
last_synced() { "$C" logs writer 2>/dev/null | sed -n 's/^synced \([0-9]*\)$/\1/p' | tail -1; }
enough() { local n; n=$(last_synced); [ "${n:-0}" -ge 30 ]; }
wait_for 300 enough
check "the writer acknowledged at least 30 synced records" enough
qemu=$(pgrep -f "qemu-system.*$id" | head -1)
check "the writer's QEMU found" test -n "$qemu"
[ -n "$qemu" ] && kill -KILL "$qemu"
gone() { [ "$(status_of writer)" = exited ]; }
wait_for 60 gone
check_eq "the container is exited after its VM was killed" exited "$(status_of writer)"
sleep 1 # the last log lines still in flight from the shim
n=$(last_synced)
diag "records acknowledged before the kill: $n"
check "records were being written when the VM died" test "${n:-0}" -ge 30

checker='
rc=0
for v in /d /b; do
    [ "$(sha256sum $v/big | cut -d" " -f1)" = "$(cat $v/big.sum.synced)" ] || { echo "$v: big file damaged"; rc=1; }
    i=1
    while [ $i -le $N ]; do
        want=$(printf "%-63s" "record $i")
        got=$(dd if=$v/log bs=64 skip=$i count=1 2>/dev/null | head -c 63)
        [ "$got" = "$want" ] || { echo "$v: record $i lost or damaged: [$got]"; rc=1; }
        i=$((i + 1))
    done
done
echo checked $N; exit $rc'
ctr run --rm -m 256M -e N="$n" -v crashdir:/d -v crashblk:/b busybox sh -c "$checker"
check_eq "a new container finds every synced record and the big file intact (named and block volume)" 0 "$rc"
check_eq "  all of them were checked" "checked $n" "$(tail -1 <<<"$out")"
[ "$rc" -eq 0 ] || diag "$(head -20 <<<"$out")"
ctr rm writer
ctr volume rm crashdir crashblk
check_eq "volumes removed" 0 "$rc"
plan_end
