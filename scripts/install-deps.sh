#!/usr/bin/env bash
# Installs every Debian 12 package the project needs to build, run and test.
set -euo pipefail
PKGS=(
    build-essential pkg-config clang libclang-rt-14-dev clang-format
    libext2fs-dev e2fsprogs libarchive-dev libzstd-dev zlib1g-dev
    libacl1-dev liblz4-dev libbz2-dev liblzma-dev nettle-dev libxml2-dev
    libjansson-dev libcurl4-openssl-dev libssl-dev libmicrohttpd-dev libcmocka-dev
    libmnl-dev libnftables-dev nftables iproute2 iperf3
    qemu-system-x86 linux-source-6.1 bc flex bison libelf-dev cpio xz-utils
    busybox-static umoci skopeo debootstrap python3 tmux zstd gzip
    docker-registry apache2-utils openssl python3-cryptography curl jq python3-docker
    docker-compose
    podman
)
# The docker CLI (a test peer: only the client is used) may come from elsewhere.
command -v docker >/dev/null || PKGS+=(docker.io)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
