#!/bin/bash
# Unpack: generated layers (every entry type, both whiteout kinds, hard links
# across layers, xattrs, a 2 GiB sparse file, 10,000 small files, deep paths,
# unicode names; gzip, zstd and plain) become one ext4 image whose tree, read
# back, equals the model of tests/fixtures/make-layers.py; e2fsck accepts it;
# it stays sparse; the guest kernel mounts it and sees the same tree.
source "$(dirname "$0")/../lib.sh"
plan_start

U=$BIN/container-unpack
FX=$T_TMP/fx
if [ ! -x "$U" ]; then
    not_ok "container-unpack is built ($U)"
    plan_end
    exit 1
fi
if python3 "$TOP/tests/fixtures/make-layers.py" "$FX" > "$T_TMP/gen.log" 2>&1; then
    ok "fixture layers generated"
else
    not_ok "fixture layers generated"
    sed 's/^/#   /' "$T_TMP/gen.log"
    plan_end
    exit 1
fi
mapfile -t layers < <(sed "s|^|$FX/|" "$FX/layers.txt")
img=$T_TMP/out/image.ext4
mkdir -p "$T_TMP/out"

t0=$EPOCHREALTIME
if "$U" -o "$img" --verbose "${layers[@]}" 2> "$T_TMP/unpack.err"; then
    ok "container-unpack applies ${#layers[@]} layers ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') s)"
else
    not_ok "container-unpack applies ${#layers[@]} layers"
    sed 's/^/#   /' "$T_TMP/unpack.err"
fi
err=$(cat "$T_TMP/unpack.err")
check_contains "per-layer times are reported" "$err" "layer 4 \`l4.tar.gz\`: 10004 entries in "
check_eq "only the image is left in the output directory" "image.ext4" "$(ls "$T_TMP/out")"
check "e2fsck -fn accepts the image" e2fsck -fn "$img"

# Read back through libext2fs; directory sizes depend on packing, blocks are checked apart.
"$U" --list --long "$img" > "$T_TMP/got.raw" 2> "$T_TMP/list.err"
sed -E 's/ blocks=[0-9]+$//; s/^(d [0-7]{4} [0-9]+:[0-9]+) [0-9]+ /\1 - /' "$T_TMP/got.raw" > "$T_TMP/got.long"
if diff -u "$FX/expected.long" "$T_TMP/got.long" > "$T_TMP/tree.diff"; then
    ok "the tree read back equals the expected tree ($(wc -l < "$FX/expected.long") entries)"
else
    not_ok "the tree read back equals the expected tree"
    head -40 "$T_TMP/tree.diff" | cut -c1-200 | sed 's/^/#   /'
    sed 's/^/#   /' "$T_TMP/list.err"
fi
check_contains "plain --list has the documented format" "$("$U" --list "$img")" \
    "l 0777 0:0 7 /bin -> usr/bin"

# Sparse: the 2 GiB file holds ~1 MiB of data and the image file stays small.
blocks=$(grep -F ' /sparse/big.img' "$T_TMP/got.raw" | sed -E 's/.* blocks=([0-9]+)$/\1/')
check "the 2 GiB sparse file allocates about its 1 MiB of data (${blocks:-?} sectors)" \
    test "${blocks:-999999}" -le 2200
alloc=$(($(stat -c %b "$img") * 512 / 1048576))
apparent=$(($(stat -c %s "$img") / 1048576))
check "the image file is sparse: ${alloc} MiB allocated of ${apparent} MiB" test "$alloc" -lt 64

# The same layers unpack the same way twice (no state kept between runs).
if "$U" -o "$T_TMP/again.ext4" "${layers[@]}" 2> /dev/null; then
    "$U" --list --long "$T_TMP/again.ext4" | sed -E 's/ blocks=[0-9]+$//' > "$T_TMP/again.long"
    check_eq "a second unpack reads back identically" "" \
        "$(diff <(sed -E 's/ blocks=[0-9]+$//' "$T_TMP/got.raw") "$T_TMP/again.long" | head -5)"
else
    not_ok "a second unpack reads back identically"
fi
rm -f "$T_TMP/again.ext4"

# --shrink: the image is cut down to what it uses, and still reads back the same
if "$U" -o "$T_TMP/small.ext4" --shrink --verbose "${layers[@]}" 2> "$T_TMP/shrink.err"; then
    check "a shrunk image passes e2fsck -fn" e2fsck -fn "$T_TMP/small.ext4"
    check "a shrunk image is smaller ($(stat -c %s "$T_TMP/small.ext4") < $(stat -c %s "$img") bytes)" \
        test "$(stat -c %s "$T_TMP/small.ext4")" -lt "$(stat -c %s "$img")"
    "$U" --list --long "$T_TMP/small.ext4" | sed -E 's/ blocks=[0-9]+$//' > "$T_TMP/small.long"
    check_eq "a shrunk image reads back identically" "" \
        "$(diff <(sed -E 's/ blocks=[0-9]+$//' "$T_TMP/got.raw") "$T_TMP/small.long" | head -5)"
    check_contains "the shrink time is reported" "$(cat "$T_TMP/shrink.err")" "shrunk to the used size in"
else
    not_ok "container-unpack --shrink"
    sed 's/^/#   /' "$T_TMP/shrink.err"
fi
rm -f "$T_TMP/small.ext4"

# --- the guest kernel mounts the image read-only and sees the same tree -----
QEMU=${CTR_QEMU:-qemu-system-x86_64}
vmlinux=$("$TOP/kernel/build.sh" 2> "$T_TMP/kbuild.err" | tail -1)
if [ ! -f "$vmlinux" ] || ! command -v "$QEMU" > /dev/null || [ ! -x /bin/busybox ]; then
    not_ok "guest kernel, QEMU and busybox are available for the mount check"
    tail -5 "$T_TMP/kbuild.err" | sed 's/^/#   /'
else
    cat > "$T_TMP/probe-init" << 'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
mkdir -p /mnt/img
mount -t ext4 -o ro /dev/vda /mnt/img && echo "probe: mounted"
cd /mnt/img
echo "probe: count $(find . -xdev | wc -l)"
echo "probe: md5 $(find . -xdev | sort | md5sum | cut -d' ' -f1)"
echo "probe: hostname $(cat etc/hostname)"
echo "probe: null $(stat -c '%F %t,%T' dev/null)"
echo "probe: sparse $(stat -c '%s' sparse/big.img) $(dd if=sparse/big.img bs=1048576 skip=1024 count=1 2>/dev/null | md5sum | cut -d' ' -f1)"
echo "probe: link $(cat usr/lib/libx-link.so | md5sum | cut -d' ' -f1) $(stat -c %h usr/lib/libx.so)"
cd /
umount /mnt/img && echo "probe: done"
reboot -f
EOF
    chmod 755 "$T_TMP/probe-init"
    "$TOP/scripts/make-initramfs.sh" "$T_TMP/probe.cpio" "$T_TMP/probe-init" /bin/busybox:/bin/busybox
    timeout -k 5 "${CTR_TEST_BOOT_DEADLINE:-120}" "$QEMU" -M microvm,acpi=off -accel tcg,thread=multi \
        -cpu max -m 256 -smp 2 -nodefaults -no-user-config -nographic -no-reboot \
        -kernel "$vmlinux" -initrd "$T_TMP/probe.cpio" -append "$(cat "$TOP/kernel/cmdline")" \
        -serial stdio -drive id=img,file="$img",format=raw,if=none,readonly=on \
        -device virtio-blk-device,drive=img < /dev/null > "$T_TMP/vm.log" 2>&1
    log=$(tr -d '\r' < "$T_TMP/vm.log")
    want_paths=$(cut -f1 "$FX/expected.long" | sed -E 's/ -> .*//; s/^[^ ]+ [^ ]+ [^ ]+ [^ ]+ //; s|^/|./|; s|^\./$|.|' | LC_ALL=C sort)
    check_contains "the guest mounts the image read-only" "$log" "probe: mounted"
    check_contains "the guest sees as many entries as expected" "$log" "probe: count $(wc -l < "$FX/expected.long")"
    check_contains "the guest's sorted \`find -xdev\` equals the expected paths" "$log" \
        "probe: md5 $(printf '%s\n' "$want_paths" | md5sum | cut -d' ' -f1)"
    check_contains "the guest reads the file of the last layer" "$log" "probe: hostname layer-two"
    check_contains "the guest sees the device node" "$log" "probe: null character special file 1,3"
    check_contains "the guest reads the 2 GiB sparse file: size and the data at 1 GiB" "$log" \
        "probe: sparse 2147483648 $(cat "$FX/sparse-middle.md5" 2> /dev/null)"
    check_contains "the guest sees the cross-layer hard link" "$log" \
        "probe: link $(python3 -c 'import hashlib; print(hashlib.md5(b"x" * 70000).hexdigest())') 2"
    check_contains "the guest unmounts cleanly" "$log" "probe: done"
    [[ $log == *"probe: done"* ]] || tail -20 "$T_TMP/vm.log" | sed 's/^/#   /'
fi

plan_end
