#!/bin/bash
# The layering the link and the includes must keep (docs/architecture.md): the daemon
# talks to shims only through the client library src/shimc, which depends on src/proto
# and src/common alone, so container-apiserver links no part of the shim's supervisor,
# VMM backend or agent client.
source "$(dirname "$0")/../lib.sh"
plan_start

for build in "$TOP/build" "$TOP/build-asan"; do
    bin=$build/bin/container-apiserver
    name=${build#"$TOP"/}
    if [ ! -x "$bin" ]; then
        skip "$name/bin/container-apiserver is not built"
        continue
    fi
    if ! syms=$(nm "$bin" 2>&1); then
        not_ok "nm reads $name/bin/container-apiserver"
        diag "$syms"
        continue
    fi
    check_contains "$name/bin/container-apiserver links the shim client library" "$syms" " T shimc_connect"
    bad=$(printf '%s\n' "$syms" | awk '$NF ~ /^(shim_run|vmm_|agentc_)/ { print $NF }' | sort -u)
    check_eq "$name/bin/container-apiserver has no shim_run, vmm_ or agentc_ symbol" "" "$bad"
done

# src/shimc includes only its own, proto's and common's headers
bad=$(grep -hE '^#include "' "$TOP"/src/shimc/*.[ch] | grep -vE '"(shimc|proto|common)/' || true)
check_eq "src/shimc includes only shimc, proto and common headers" "" "$bad"
# the daemon reaches shims only through shimc: no header of src/shim
bad=$(grep -lE '^#include "shim/' "$TOP"/src/daemon/*.[ch] "$TOP"/src/daemon/*/*.[ch] 2> /dev/null || true)
check_eq "src/daemon includes no header of src/shim" "" "$bad"

plan_end
