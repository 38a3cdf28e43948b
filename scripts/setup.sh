#!/usr/bin/env bash
# Everything a fresh Debian 12 machine needs, as root: packages, both builds,
# the guest kernel (cached outside the clone, keyed by its config's hash), the
# initramfs with vminitd, the busybox demo image and the Compose tests' Debian
# image (tests/fixtures/stack-image.sh, cached outside the clone). Idempotent.
# With --demo, then runs scripts/demo.sh (starts the system, runs containers).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -j"$(nproc)"
make -j"$(nproc)" SANITIZE=1
kernel/build.sh
scripts/make-initramfs.sh build/initramfs.cpio build/bin/vminitd
scripts/make-busybox-image.sh build/images/busybox latest docker.io/library/busybox:latest
# the Compose stacks' image (debootstrap; cached in /var/cache/container-test/stack-image)
tests/fixtures/stack-image.sh >/dev/null
echo "setup complete: build/bin, build/kernel/vmlinux, build/initramfs.cpio, build/images/busybox"
if [ "${1:-}" = --demo ]; then
    scripts/demo.sh
fi
