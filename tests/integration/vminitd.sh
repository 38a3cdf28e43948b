#!/usr/bin/env bash
# vminitd end to end, without the shim: boot the project kernel with the vminitd
# initramfs under QEMU microvm, drive the agent port from a small independent
# Python client (vminitd_check.py), then check the disks afterwards.
. "$(dirname "$0")/../lib.sh"
plan_start

kernel=${CTR_KERNEL:-$TOP/build/kernel/vmlinux}
vminitd=$BIN/vminitd
if [ ! -f "$kernel" ]; then
    for k in /var/cache/container-kernel/*/vmlinux; do [ -f "$k" ] && kernel=$k; done
fi
[ -f "$kernel" ] || { skip "no guest kernel at \`$kernel\`: build it with kernel/build.sh"; plan_end; exit; }
[ -x "$vminitd" ] || { not_ok "vminitd not built at \`$vminitd\` (run make)"; plan_end; exit; }
for tool in qemu-system-x86_64 mkfs.ext4 e2fsck python3; do
    command -v $tool > /dev/null || { skip "\`$tool\` is not installed"; plan_end; exit; }
done
[ -x /bin/busybox ] || { skip "busybox-static is not installed"; plan_end; exit; }
gen=$(dirname "$kernel")/gen_init_cpio
[ -x "$gen" ] && export CTR_GEN_INIT_CPIO=$gen

# The root filesystem: busybox, passwd/group with a user in supplementary groups.
root=$T_TMP/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,home/app}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list-full); do
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
wheel:x:10:app
users:x:100:app
app:x:1000:
nogroup:x:65534:
EOF
[ "$(id -u)" = 0 ] && chown 1000:1000 "$root/home/app"
chmod 1777 "$root/tmp"
mkfs.ext4 -q -F -L image -d "$root" "$T_TMP/lower.img" 32M > /dev/null
mkfs.ext4 -q -F -L rw "$T_TMP/upper.img" 64M > /dev/null
lower_sum=$(sha256sum < "$T_TMP/lower.img")
"$TOP/scripts/make-initramfs.sh" "$T_TMP/initramfs.cpio" "$vminitd" ||
    { not_ok "make-initramfs.sh failed"; plan_end; exit; }

sock=$T_TMP/agent.sock
start=$(date +%s%N)
qemu-system-x86_64 -M microvm,acpi=off,x-option-roms=off,rtc=off -nodefaults -no-user-config \
    -nographic -no-reboot -accel tcg,thread=multi -cpu max -m 256 -smp 1 \
    -kernel "$kernel" -initrd "$T_TMP/initramfs.cpio" \
    -append "console=ttyS0 reboot=t panic=-1 quiet" \
    -chardev file,id=console,path="$T_TMP/console.log" -serial chardev:console \
    -drive id=d0,file="$T_TMP/lower.img",if=none,format=raw,readonly=on \
    -device virtio-blk-device,drive=d0,serial=image \
    -drive id=d1,file="$T_TMP/upper.img",if=none,format=raw \
    -device virtio-blk-device,drive=d1,serial=rw \
    -chardev socket,id=agent,path="$sock",server=on,wait=off \
    -device virtio-serial-device,max_ports=2 \
    -device virtserialport,chardev=agent,name=org.container.agent \
    > "$T_TMP/qemu.out" 2>&1 &
qpid=$!
at_exit "kill -9 $qpid"

while IFS= read -r line; do
    case $line in
    "ok "*) ok "${line#ok }" ;;
    "fail "*) not_ok "${line#fail }" ;;
    *) echo "$line" ;;
    esac
done < <(timeout 600 python3 "$TOP/tests/integration/vminitd_check.py" "$sock")

for _ in $(seq 100); do kill -0 $qpid 2> /dev/null || break; sleep 0.1; done
if kill -0 $qpid 2> /dev/null; then
    not_ok "qemu still running after shutdown"
else
    wait $qpid
    rc=$?
    check_eq "qemu exits 0 after the guest powers off" 0 $rc
    [ $rc = 0 ] || sed 's/^/# qemu: /' "$T_TMP/qemu.out" | tail -5
fi
diag "wall time $(( ($(date +%s%N) - start) / 1000000 )) ms"
if grep -q "vminitd" "$T_TMP/console.log"; then
    grep "vminitd" "$T_TMP/console.log" | sed 's/^/# console: /'
fi
check "writable disk is clean after power-off (e2fsck -fn)" e2fsck -fn "$T_TMP/upper.img"
check_eq "image disk is byte-identical" "$lower_sum" "$(sha256sum < "$T_TMP/lower.img")"
check "the write landed in the writable disk's upper dir" \
    sh -c "debugfs -R 'cat /upper/root/f' '$T_TMP/upper.img' 2>/dev/null | grep -qx persisted"
plan_end
