#!/usr/bin/env bash
# Image config + docker-style flags, end to end: an image is loaded into a
# store, `ctr-prepare bundle` merges its Entrypoint/Cmd/Env/WorkingDir/User with
# -e/--env-file/-w/-u/--entrypoint (Docker's rules), and container-runtime runs
# the bundle in a microVM. One VM at a time.
source "$(dirname "$0")/../lib.sh"
plan_start

source "$(dirname "$0")/30-runtime-lib.bash"
runtime_fixtures "$BIN/ctr-prepare"

# A second image on the same layer whose config sets every field the merge reads.
oci=$T_TMP/oci
blobs=$oci/blobs/sha256
manifest=$(jq -r '.manifests[0].digest' "$oci/index.json")
config=$(jq -r '.config.digest' "$blobs/${manifest#sha256:}")
jq -c '.config = {Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "IMG=image", "OVER=image"],
                  Entrypoint: ["/bin/echo", "ep"], Cmd: ["default-cmd"],
                  WorkingDir: "/home/app", User: "app"}' "$blobs/${config#sha256:}" >"$T_TMP/cfg.json"
cfg_digest=$(sha256sum "$T_TMP/cfg.json" | cut -c1-64)
cp "$T_TMP/cfg.json" "$blobs/$cfg_digest"
jq -c --arg d "sha256:$cfg_digest" --argjson s "$(stat -c %s "$T_TMP/cfg.json")" \
    '.config.digest = $d | .config.size = $s' "$blobs/${manifest#sha256:}" >"$T_TMP/man.json"
man_digest=$(sha256sum "$T_TMP/man.json" | cut -c1-64)
cp "$T_TMP/man.json" "$blobs/$man_digest"
jq -c --arg d "sha256:$man_digest" --argjson s "$(stat -c %s "$T_TMP/man.json")" \
    '.manifests = [.manifests[0] | .digest = $d | .size = $s |
                   .annotations["org.opencontainers.image.ref.name"] = "cfg"]' \
    "$oci/index.json" >"$T_TMP/cfg-layout-index.json"
mkdir -p "$T_TMP/cfg-layout"
cp -r "$oci/blobs" "$oci/oci-layout" "$T_TMP/cfg-layout/"
cp "$T_TMP/cfg-layout-index.json" "$T_TMP/cfg-layout/index.json"

DATA=$T_TMP/data
check "load the busybox image into a store" "$PREP" load --root "$DATA" "$oci" --name busybox
check "load the configured image into a store" "$PREP" load --root "$DATA" "$T_TMP/cfg-layout" --name cfg

# run_img NAME [ctr-prepare bundle flags] -- IMAGE [CMD...]: sets out, err, rc.
run_img() {
    local b=$T_TMP/b-$1 flags=()
    shift
    while [ "$1" != -- ]; do flags+=("$1"); shift; done
    shift
    rc=0
    if ! "$PREP" bundle --root "$DATA" --kernel "$kernel" --initrd "$initrd" -m 256m -c 1 \
        "${flags[@]+"${flags[@]}"}" "$b" "$@" \
        >"$b.prep" 2>&1; then
        out="" err=$(cat "$b.prep") rc=125
        return
    fi
    timeout -k 5 120 "$RT" run "$b" >"$b.out" 2>"$b.err" </dev/null || rc=$?
    out=$(cat "$b.out")
    err=$(cat "$b.err")
}

run_img default -- cfg
check_eq "image Entrypoint + Cmd run as configured" "ep default-cmd" "$out"
check_eq "and exit 0" "0" "$rc"

run_img args -- cfg one two
check_eq "arguments after the image replace Cmd, Entrypoint stays" "ep one two" "$out"

printf '# a comment\n\nOVER=file\nFROMFILE=yes\nCALLER\n' >"$T_TMP/env.list"
CALLER=from-caller run_img merge -e OVER=flag -e NEW=x --env-file "$T_TMP/env.list" \
    --entrypoint /bin/sh -- cfg -c 'echo "$IMG $OVER $NEW $FROMFILE $CALLER"; pwd; id -u; id -G; echo "$HOME"'
expected="image flag x yes from-caller
/home/app
1000
1000 10 100
/home/app"
check_eq "env: image < env-file < -e; WorkingDir and User (with groups, HOME) from the image" "$expected" "$out"

run_img override -w /tmp -u 0:0 --entrypoint /bin/sh -- cfg -c 'pwd; id -u; id -g'
check_eq "-w and -u override the image's WorkingDir and User" "/tmp
0
0" "$out"

run_img clear --entrypoint "" -- cfg /bin/echo cleared
check_eq "--entrypoint \"\" clears the image's Entrypoint" "cleared" "$out"

run_img named -u nobody -- busybox id -un
check_eq "-u NAME resolves in the container's /etc/passwd" "nobody" "$out"

run_img nosuch -u ghost -- busybox true
check "an unknown user fails the container" test "$rc" -ne 0
check_contains "the error names the user" "$err" "ghost"

run_img missing -- nosuchimage true
check_eq "an unknown image is refused" "125" "$rc"
check_contains "the error names the image" "$err" "nosuchimage"

plan_end
