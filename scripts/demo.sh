#!/usr/bin/env bash
# The quick start: start the system, load the locally made busybox image and
# run containers from it, each in its own microVM. Uses the default data root
# (/var/lib/container) and run root (/run/container) unless
# CONTAINER_DEMO_ROOT is set (then ROOT/data and ROOT/run).
set -euo pipefail
cd "$(dirname "$0")/.."
C=build/bin/container
args=()
if [ -n "${CONTAINER_DEMO_ROOT:-}" ]; then
    args=(--root "$CONTAINER_DEMO_ROOT/data" --run-root "$CONTAINER_DEMO_ROOT/run")
    export CONTAINER_HOST=unix://$CONTAINER_DEMO_ROOT/run/container.sock
fi
set -x
$C system start "${args[@]+"${args[@]}"}"
tar -C build/images/busybox -cf - . | $C image load
$C run --rm busybox echo "hello from a container in its own microVM"
$C run --rm -e GREETING=hi busybox sh -c 'echo "$GREETING from $(hostname), kernel $(uname -r)"'
$C image ls
