# Helpers for the CLI integration tests (45-cli.sh, 70-volumes.sh; sourced, not run):
# the fixtures (built binaries, guest kernel, initramfs, the busybox image as an OCI
# archive named busybox:latest), the daemon's temp root and run root, and ctr/status_of to
# drive the `container` CLI. `system start` runs in a network namespace of
# the test (CLI_NS), so the daemon it spawns makes its bridge and nft table there; the
# socket is a file, so every other command runs outside.

# cli_fixtures: sets C, kernel, initrd, root, run and CONTAINER_HOST; writes
# $T_TMP/oci (the layout) and $T_TMP/busybox.tar.
cli_fixtures() {
    C=$BIN/container
    [ -x "$C" ] || need "container not built (run make)"
    [ -x "$BIN/container-apiserver" ] || need "container-apiserver not built (run make)"
    [ -x "$BIN/container-runtime" ] || need "container-runtime not built (run make)"
    [ -x "$BIN/vminitd" ] || need "vminitd not built (run make)"
    command -v qemu-system-x86_64 >/dev/null || need "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
    command -v jq >/dev/null || need "jq missing (apt-get install jq)"

    kernel=${CTR_KERNEL:-}
    if [ -z "$kernel" ]; then
        kernel=$("$TOP/kernel/build.sh" 2>"$T_TMP/kernel.log" | tail -1) || need "guest kernel build failed: $(tail -3 "$T_TMP/kernel.log")"
    fi
    [ -f "$kernel" ] || need "no guest kernel at \`$kernel\`"
    initrd=$T_TMP/initramfs.cpio
    "$TOP/scripts/make-initramfs.sh" "$initrd" "$BIN/vminitd" >/dev/null 2>"$T_TMP/initrd.log" ||
        need "initramfs build failed: $(tail -3 "$T_TMP/initrd.log")"
    "$TOP/scripts/make-busybox-image.sh" "$T_TMP/oci" >/dev/null 2>"$T_TMP/oci.log" ||
        need "busybox image build failed: $(tail -3 "$T_TMP/oci.log")"
    # Name it busybox:latest in the archive (the loader reads this annotation).
    jq '.manifests[0].annotations["io.containerd.image.name"] = "docker.io/library/busybox:latest"' \
        "$T_TMP/oci/index.json" >"$T_TMP/index.json" && mv "$T_TMP/index.json" "$T_TMP/oci/index.json"
    tar -C "$T_TMP/oci" -cf "$T_TMP/busybox.tar" . || need "tar of the OCI layout failed"

    root=$T_TMP/root
    run=$T_TMP/run
    export CONTAINER_HOST=unix://$run/container.sock
    unset CONTAINER_KERNEL CONTAINER_INITRD
    command -v ip >/dev/null || need "ip missing (apt-get install iproute2)"
    netns_add CLI_NS cli || need "cannot create a network namespace (\`ip netns add\` needs root)"
    # The daemon's DNS server forwards unknown names to these resolvers: none.
    : >"$T_TMP/resolv.conf"
    export CONTAINER_DNS_UPSTREAM=$T_TMP/resolv.conf
}

# ctr ARGS...: the CLI with a deadline; sets out, err, rc.
ctr() {
    local ns=()
    [ "${1:-}" = system ] && [ "${2:-}" = start ] && ns=(ip netns exec "$CLI_NS")
    rc=0
    timeout -k 5 180 "${ns[@]}" "$C" "$@" >"$T_TMP/out" 2>"$T_TMP/err" </dev/null || rc=$?
    out=$(cat "$T_TMP/out")
    err=$(cat "$T_TMP/err")
}
status_of() { "$C" ls -a --format json | jq -r --arg n "$1" '.[] | select(.name == $n) | .state'; }
