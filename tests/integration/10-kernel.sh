#!/bin/bash
# The guest kernel and the demo image: the kernel has the options the runtime
# relies on, boots under QEMU microvm (TCG) to a trivial init within a
# deadline, and its virtio devices, filesystems and cgroups work from a
# busybox init; the busybox OCI layout made by scripts/make-busybox-image.sh
# is valid and deterministic.
source "$(dirname "$0")/../lib.sh"
plan_start

QEMU=${CTR_QEMU:-qemu-system-x86_64}
BOOT_DEADLINE=${CTR_TEST_BOOT_DEADLINE:-30}
# kernel/cmdline for every boot; under TCG tsc_early_khz=, and with one vCPU
# kernel/cmdline-tcg-1cpu as well (docs/kernel.md).
CMDLINE=$(cat "$TOP/kernel/cmdline")
UP_ARGS=$(cat "$TOP/kernel/cmdline-tcg-1cpu")
if cc -O2 -o "$T_TMP/host-tsc-khz" "$TOP/kernel/host-tsc-khz.c" && tsc_khz=$("$T_TMP/host-tsc-khz"); then
    ok "the host's TSC rate is known ($tsc_khz kHz)"
    CMDLINE="$CMDLINE tsc_early_khz=$tsc_khz"
else
    not_ok "the host's TSC rate is known (kernel/host-tsc-khz.c)"
fi

# --- the kernel build (cached outside the clone; builds once if missing) ---
if vmlinux=$("$TOP/kernel/build.sh" 2> "$T_TMP/build.err" | tail -1) && [ -f "$vmlinux" ]; then
    ok "kernel/build.sh gives a vmlinux ($vmlinux)"
else
    not_ok "kernel/build.sh gives a vmlinux"
    tail -20 "$T_TMP/build.err" | sed 's/^/#   /'
    plan_end
    exit 1
fi
config=$(dirname "$vmlinux")/config
t0=$EPOCHREALTIME
again=$("$TOP/kernel/build.sh" 2> /dev/null | tail -1)
dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
check "a cached kernel/build.sh is fast and gives the same path (${dt}s)" \
    awk -v d="$dt" -v a="$again" -v b="$vmlinux" 'BEGIN { exit !(d < 5 && a == b) }'
check_eq "build/kernel/vmlinux links to the cached vmlinux" "$(realpath "$vmlinux")" \
    "$(realpath "$TOP/build/kernel/vmlinux" 2> /dev/null)"

# Options vminitd and the shim rely on; listed here, not read from the
# fragment, so that dropping one from the fragment fails this test.
required=(PVH 64BIT SMP X86_MPPARSE PRINTK SERIAL_8250_CONSOLE BLK_DEV_INITRD RD_GZIP
    VIRTIO_MMIO VIRTIO_MMIO_CMDLINE_DEVICES VIRTIO_BLK VIRTIO_NET VIRTIO_CONSOLE VIRTIO_BALLOON
    HW_RANDOM_VIRTIO VIRTIO_VSOCKETS NET_9P_VIRTIO 9P_FS EXT4_FS OVERLAY_FS TMPFS DEVTMPFS
    UNIX98_PTYS PROC_FS PROC_SYSCTL SYSFS FUTEX EPOLL SIGNALFD TIMERFD EVENTFD SHMEM INOTIFY_USER
    NAMESPACES UTS_NS IPC_NS PID_NS NET_NS USER_NS CGROUPS MEMCG CGROUP_PIDS CGROUP_SCHED
    SECCOMP SECCOMP_FILTER NET INET IPV6 UNIX PACKET
    NETFILTER NF_CONNTRACK NF_NAT NF_TABLES NF_TABLES_INET NFT_NAT NFT_MASQ NFT_CT NFT_COMPAT
    IP_NF_IPTABLES IP_NF_NAT IP_NF_TARGET_MASQUERADE NETFILTER_XT_MATCH_CONNTRACK IP6_NF_IPTABLES)
missing=()
for o in "${required[@]}"; do grep -qx "CONFIG_$o=y" "$config" || missing+=("$o"); done
check_eq "the kernel config has every required option" "" "${missing[*]}"
present=()
for o in MODULES PCI ACPI; do grep -qx "CONFIG_$o=y" "$config" && present+=("$o"); done
check_eq "no modules, no PCI, no ACPI" "" "${present[*]}"
dropped=()
while IFS= read -r line; do
    grep -qxF -- "$line" "$config" || dropped+=("$line")
done < <(grep -E '^CONFIG_[A-Z0-9_]+=' "$TOP/kernel/config.fragment")
check_eq "every option of kernel/config.fragment is in the built config" "" "${dropped[*]}"
check_contains "vmlinux is an ELF with a PVH entry note (Xen note 0x12)" \
    "$(readelf -n "$vmlinux" 2> /dev/null)" "Unknown note type: (0x00000012)"

if ! command -v "$QEMU" > /dev/null; then
    not_ok "\`$QEMU\` is installed (apt-get install qemu-system-x86)"
    plan_end
    exit 1
fi

# run_vm NAME INITRAMFS EXTRA_QEMU_ARGS...: boot with the documented arguments,
# kill QEMU after the deadline; the console goes to $T_TMP/NAME.log.
run_vm() {
    local name=$1 initrd=$2 append=$CMDLINE
    shift 2
    [[ " $* " == *" -smp 1 "* ]] && append="$append $UP_ARGS"
    timeout -k 5 "$BOOT_DEADLINE" "$QEMU" -M microvm,acpi=off,x-option-roms=off -accel tcg,thread=multi -cpu max -m 256 \
        -nodefaults -no-user-config -nographic -no-reboot \
        -kernel "$vmlinux" -initrd "$initrd" -append "$append" -serial stdio "$@" \
        < /dev/null > "$T_TMP/$name.log" 2>&1
}

# --- boot to the trivial init ----------------------------------------------
if cc -static -Os -o "$T_TMP/trivial-init" "$TOP/bench/boot/trivial-init.c" &&
    "$TOP/scripts/make-initramfs.sh" "$T_TMP/trivial.cpio" "$T_TMP/trivial-init"; then
    ok "trivial init and its initramfs build"
else
    not_ok "trivial init and its initramfs build"
fi
listing=$(cpio -itv < "$T_TMP/trivial.cpio" 2> /dev/null)
check_contains "the initramfs has /dev/console (5,1)" "$listing" "5,   1 Jan  1  1970 dev/console"
check_contains "the initramfs has /init" "$listing" " init"
"$TOP/scripts/make-initramfs.sh" "$T_TMP/trivial2.cpio" "$T_TMP/trivial-init"
check_eq "the initramfs is deterministic" "$(sha256sum < "$T_TMP/trivial.cpio")" "$(sha256sum < "$T_TMP/trivial2.cpio")"
err=$("$TOP/scripts/make-initramfs.sh" "$T_TMP/bad.cpio" "$T_TMP/no-such-init" 2>&1)
check_contains "a missing init is named in the error" "$err" "init binary \`$T_TMP/no-such-init\` not found"
t0=$EPOCHREALTIME
rc=0
run_vm trivial "$T_TMP/trivial.cpio" -smp 1 || rc=$?
dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
check_eq "QEMU exits by itself after the trivial init reboots (deadline ${BOOT_DEADLINE}s, took ${dt}s)" 0 "$rc"
check_contains "the kernel ran the trivial init (not a panic)" \
    "$(cat "$T_TMP/trivial.log")" "trivial-init: reached init"
if [ "$rc" -ne 0 ]; then tail -15 "$T_TMP/trivial.log" | sed 's/^/#   /'; fi

# --- a busybox init exercises devices, filesystems and cgroups --------------
mkdir -p "$T_TMP/lower/etc"
echo lower-file > "$T_TMP/lower/etc/hello"
mkfs.ext4 -q -F -d "$T_TMP/lower" "$T_TMP/lower.ext4" 8M > /dev/null
mkfs.ext4 -q -F "$T_TMP/upper.ext4" 8M > /dev/null
cat > "$T_TMP/probe-init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts && echo "probe: devpts ok"
mount -t cgroup2 cgroup2 /sys/fs/cgroup && echo "probe: cgroup2 $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "probe: cpus $(grep -c ^processor /proc/cpuinfo)"
echo "probe: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
echo "probe: hrtimer $(grep -m1 resolution /proc/timer_list | tr -d ' ')"
[ "${1:-}" = timers-only ] && reboot -f
for b in /sys/block/vd*; do echo "probe: disk $(basename $b) serial=$(cat $b/serial) ro=$(cat $b/ro)"; done
for p in /sys/class/virtio-ports/*; do echo "probe: port $(basename $p) name=$(cat $p/name)"; done
mkdir -p /mnt/lower /mnt/upper /mnt/root
for b in /sys/block/vd*; do
    case $(cat $b/serial) in
    image) mount -t ext4 -o ro /dev/$(basename $b) /mnt/lower ;;
    scratch) mount -t ext4 /dev/$(basename $b) /mnt/upper ;;
    esac
done
mkdir -p /mnt/upper/upper /mnt/upper/work
mount -t overlay overlay -o lowerdir=/mnt/lower,upperdir=/mnt/upper/upper,workdir=/mnt/upper/work /mnt/root &&
    echo changed > /mnt/root/etc/hello && echo "probe: overlay $(cat /mnt/lower/etc/hello) $(cat /mnt/root/etc/hello)"
mount -t tmpfs tmpfs /mnt/root/tmp 2>/dev/null || mount -t tmpfs tmpfs /tmp && echo "probe: tmpfs ok"
unshare -m -u -i -p -n -f sh -c 'hostname inner && echo "probe: namespaces $(hostname)"'
head -c 16 /dev/hwrng > /dev/null && echo "probe: hwrng ok"
for p in /sys/class/virtio-ports/*; do
    [ "$(cat $p/name)" = org.container.agent ] && echo "agent-hello" > /dev/$(basename $p)
done
echo "probe: done"
sync
reboot -f
EOF
chmod 755 "$T_TMP/probe-init"
"$TOP/scripts/make-initramfs.sh" "$T_TMP/probe.cpio" "$T_TMP/probe-init" /bin/busybox:/bin/busybox
rc=0
run_vm probe "$T_TMP/probe.cpio" -smp 2 \
    -drive id=image,file="$T_TMP/lower.ext4",format=raw,if=none,readonly=on \
    -device virtio-blk-device,drive=image,serial=image \
    -drive id=scratch,file="$T_TMP/upper.ext4",format=raw,if=none \
    -device virtio-blk-device,drive=scratch,serial=scratch \
    -chardev file,id=agent,path="$T_TMP/agent.out" \
    -device virtio-serial-device -device virtserialport,chardev=agent,name=org.container.agent \
    -device virtio-rng-device -device virtio-balloon-device || rc=$?
log=$(tr -d '\r' < "$T_TMP/probe.log")
check_eq "QEMU exits after the busybox probe init reboots" 0 "$rc"
check_contains "the probe init ran to its end" "$log" "probe: done"
check_contains "two vCPUs come up without ACPI (MP table)" "$log" "probe: cpus 2"
check_contains "devpts mounts" "$log" "probe: devpts ok"
check_contains "2 vCPUs: the TSC is the clocksource" "$log" "probe: clocksource tsc"
check_contains "2 vCPUs: high-resolution timers are active" "$log" "probe: hrtimer .resolution:1nsecs"
check_contains "cgroup2 offers the cpu, memory and pids controllers" \
    "$(grep 'probe: cgroup2' <<< "$log" | tr ' ' '\n' | grep -xE 'cpu|memory|pids' | sort | tr '\n' ' ')" "cpu memory pids"
check_contains "the read-only image disk is found by its serial" "$log" "serial=image ro=1"
check_contains "the writable disk is found by its serial" "$log" "serial=scratch ro=0"
check_contains "the virtio-serial port carries its name" "$log" "name=org.container.agent"
check_contains "ext4 + overlayfs: the upper layer shadows the lower one" "$log" "probe: overlay lower-file changed"
check_contains "namespaces work (unshare -m -u -i -p -n)" "$log" "probe: namespaces inner"
check_contains "virtio-rng feeds /dev/hwrng" "$log" "probe: hwrng ok"
check_eq "the guest's write to the agent port reaches the host" "agent-hello" "$(cat "$T_TMP/agent.out" 2> /dev/null)"
check_eq "the image disk is unchanged by the guest" "lower-file" \
    "$(debugfs -R 'cat /etc/hello' "$T_TMP/lower.ext4" 2> /dev/null)"
if [ "$rc" -ne 0 ] || [[ $log != *"probe: done"* ]]; then tail -30 "$T_TMP/probe.log" | sed 's/^/#   /'; fi

# One vCPU with kernel/cmdline-tcg-1cpu (`noapictimer`): the PIT must still
# give high-resolution timers.
printf '#!/bin/busybox sh\nexec /probe-init timers-only\n' > "$T_TMP/timers-init"
chmod 755 "$T_TMP/timers-init"
"$TOP/scripts/make-initramfs.sh" "$T_TMP/timers.cpio" "$T_TMP/timers-init" \
    /bin/busybox:/bin/busybox "$T_TMP/probe-init:/probe-init"
rc=0
run_vm timers "$T_TMP/timers.cpio" -smp 1 || rc=$?
log=$(tr -d '\r' < "$T_TMP/timers.log")
check_eq "QEMU exits after the 1-vCPU timer probe" 0 "$rc"
check_contains "1 vCPU: the TSC is the clocksource" "$log" "probe: clocksource tsc"
check_contains "1 vCPU: high-resolution timers are active" "$log" "probe: hrtimer .resolution:1nsecs"

# --- the busybox OCI image layout -------------------------------------------
oci=$T_TMP/busybox-oci
if digest=$("$TOP/scripts/make-busybox-image.sh" "$oci" demo 2> "$T_TMP/img.err"); then
    ok "make-busybox-image.sh writes a layout ($digest)"
else
    not_ok "make-busybox-image.sh writes a layout"
    sed 's/^/#   /' "$T_TMP/img.err"
fi
blob() { echo "$oci/blobs/sha256/${1#sha256:}"; }
# verify_blob DIGEST SIZE: the blob exists, hashes to its name, has its size.
verify_blob() {
    local f
    f=$(blob "$1")
    [ -f "$f" ] && [ "sha256:$(sha256sum < "$f" | cut -c1-64)" = "$1" ] && [ "$(stat -c %s "$f")" = "$2" ]
}
check_eq "oci-layout names version 1.0.0" "1.0.0" "$(jq -r .imageLayoutVersion "$oci/oci-layout" 2> /dev/null)"
check_eq "index.json tags the manifest" "demo" \
    "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$oci/index.json" 2> /dev/null)"
mdesc=$(jq -r '.manifests[0] | "\(.digest) \(.size)"' "$oci/index.json" 2> /dev/null)
check "index → manifest digest and size check out" verify_blob $mdesc
manifest=$(blob "${mdesc%% *}")
check "manifest → config digest and size check out" \
    verify_blob $(jq -r '.config | "\(.digest) \(.size)"' "$manifest" 2> /dev/null)
check "manifest → layer digest and size check out" \
    verify_blob $(jq -r '.layers[0] | "\(.digest) \(.size)"' "$manifest" 2> /dev/null)
config_blob=$(blob "$(jq -r .config.digest "$manifest" 2> /dev/null)")
layer_blob=$(blob "$(jq -r .layers[0].digest "$manifest" 2> /dev/null)")
check_eq "the config's diffID is the sha256 of the uncompressed layer" \
    "sha256:$(gzip -dc "$layer_blob" 2> /dev/null | sha256sum | cut -c1-64)" \
    "$(jq -r '.rootfs.diff_ids[0]' "$config_blob" 2> /dev/null)"
check_eq "the config has Cmd [sh] and PATH" \
    '["sh"] PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$(jq -cj '.config.Cmd, " ", .config.Env[0]' "$config_blob" 2> /dev/null)"
listing=$(tar -tvzf "$layer_blob" 2> /dev/null)
check_contains "the layer has /bin/busybox" "$listing" " bin/busybox"
check_contains "the layer links applets to busybox" "$listing" "bin/sh -> /bin/busybox"
check_contains "/tmp is 1777" "$listing" "drwxrwxrwt 0/0               0 1970-01-01 00:00 tmp/"
check_contains "/home/app belongs to uid 1000" "$listing" "1000/1000         0 1970-01-01 00:00 home/app/"
group=$(tar -xzOf "$layer_blob" etc/group 2> /dev/null)
check_contains "app has a supplementary group" "$group" "users:x:100:app"
again=$("$TOP/scripts/make-busybox-image.sh" "$T_TMP/busybox-oci2" demo 2> /dev/null)
check_eq "the image is deterministic (same manifest digest twice)" "$digest" "$again"
if command -v umoci > /dev/null; then
    check "umoci accepts the layout" umoci stat --image "$oci:demo"
else
    skip "umoci accepts the layout: umoci is not installed"
fi
if command -v skopeo > /dev/null; then
    check "skopeo reads the layout" skopeo inspect "oci:$oci:demo"
else
    skip "skopeo reads the layout: skopeo is not installed"
fi
plan_end
