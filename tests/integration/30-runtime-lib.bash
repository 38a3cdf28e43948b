# Shared set-up of the container-runtime tests (3x), sourced after tests/lib.sh and
# plan_start. runtime_fixtures [BINARY...] checks the binaries (container-runtime,
# vminitd and any given), QEMU and jq, then sets RT, PREP, kernel (CTR_KERNEL, else
# build/kernel/vmlinux, else kernel/build.sh's cached build), initrd (a fresh
# initramfs with this tree's vminitd) and makes the busybox OCI layout in $T_TMP/oci.
# A missing facility skips the whole file loudly (need), never counting as a pass.

runtime_fixtures() {
    local b
    RT=$BIN/container-runtime
    PREP=$BIN/ctr-prepare
    for b in "$RT" "$BIN/vminitd" "$@"; do [ -x "$b" ] || need "\`$b\` not built (run make)"; done
    command -v qemu-system-x86_64 >/dev/null || need "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
    command -v jq >/dev/null || need "jq missing (apt-get install jq)"

    kernel=${CTR_KERNEL:-}
    [ -z "$kernel" ] && [ -f "$BUILD/kernel/vmlinux" ] && kernel=$(realpath "$BUILD/kernel/vmlinux")
    if [ -z "$kernel" ]; then
        kernel=$("$TOP/kernel/build.sh" 2>"$T_TMP/kernel.log" | tail -1) ||
            need "guest kernel build failed: $(tail -3 "$T_TMP/kernel.log")"
    fi
    [ -f "$kernel" ] || need "no guest kernel at \`$kernel\`"

    initrd=$T_TMP/initramfs.cpio
    CTR_GEN_INIT_CPIO=${CTR_GEN_INIT_CPIO:-$(dirname "$kernel")/gen_init_cpio} \
        "$TOP/scripts/make-initramfs.sh" "$initrd" "$BIN/vminitd" >/dev/null 2>"$T_TMP/initrd.log" ||
        need "initramfs build failed: $(tail -3 "$T_TMP/initrd.log")"
    "$TOP/scripts/make-busybox-image.sh" "$T_TMP/oci" >/dev/null 2>"$T_TMP/oci.log" ||
        need "busybox image build failed: $(tail -3 "$T_TMP/oci.log")"
}
