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

# no loop of mutually calling files spans more than 3 files; each smaller one is named,
# with why it stays, in docs/hacking.md (## Small loops)
if [ -d "$TOP/build/obj/src" ]; then
    out=$(cd "$TOP" && python3 scripts/file-loops.py --build build --check docs/hacking.md 2>&1)
    rc=$?
    check "no file loop over 3 files in src/; each smaller loop named in docs/hacking.md" \
        test "$rc" -eq 0
    [ -n "$out" ] && diag "$out"
else
    skip "build/obj is not built"
fi
# the daemon's services know no HTTP: only src/daemon/api/ does (daemon.c, the process's
# life, starts and stops it)
bad=$(grep -lE '#include <microhttpd.h>|struct api_req|MHD_' "$TOP"/src/daemon/*.[ch] || true)
check_eq "no daemon service file includes microhttpd.h or sees a request" "" "$bad"
bad=$(grep -lE '"daemon/api/api.h"' "$TOP"/src/daemon/*.[ch] | grep -v '/daemon\.c$' || true)
check_eq "no daemon service file includes the API edge's header" "" "$bad"
# src/registry is the distribution protocol only: OCI types are src/oci's, blobs the store's
bad=$(grep -nE '^(typedef )?struct +[a-z_]*(manifest|descriptor|reference|platform)[a-z_]* *\{' \
    "$TOP"/src/registry/*.[ch] || true)
check_eq "src/registry defines no manifest, descriptor, reference or platform type" "" "$bad"
bad=$(grep -nE '\b(rename|renameat|linkat)\(|O_CREAT' "$TOP"/src/registry/*.c || true)
check_eq "src/registry writes no file itself (blobs go through the store's ingests)" "" "$bad"
# each src/<module>/module.mk names only its own sources (tests: tests/*/module.mk)
bad=""
for mk in "$TOP"/src/*/module.mk; do
    dir=${mk%/module.mk}
    dir=src/${dir##*/src/}
    for p in $(grep -oE '\b(src|tests)/[A-Za-z0-9_./-]+\.c\b' "$mk"); do
        case $p in "$dir"/*) ;; *) bad="$bad ${mk#"$TOP"/}:$p" ;; esac
    done
done
check_eq "each src/*/module.mk builds only its own module" "" "${bad# }"

plan_end
