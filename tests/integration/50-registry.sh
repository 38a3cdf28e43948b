#!/usr/bin/env bash
# Registry client against the real docker-registry (distribution v2) on 127.0.0.1:
# push/pull round trips, tags and digests, multi-platform indexes, skopeo interop
# (gzip and zstd layers), a tampering proxy, and an interrupted download that resumes.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/50-registry-lib.bash"
plan_start

if [ ! -x /usr/bin/docker-registry ]; then
    need "docker-registry is not installed (apt-get install docker-registry)"
fi
if [ ! -x "$REG_TOOL" ]; then
    not_ok "ctr-registry is not built ($REG_TOOL)"; plan_end; exit
fi
start_registry plain || { not_ok "start docker-registry"; plan_end; exit; }
H=127.0.0.1:$REG_PORT_plain
CFG=$T_TMP/dockercfg
R() { "$REG_TOOL" --scheme http --config "$CFG" "$@"; }

# --- push an OCI layout, pull it back: same digests, same bytes ---
make_layout "$T_TMP/l1" linux/amd64 3 200000 a >/dev/null
man=$(jq -r '.manifests[0].digest' "$T_TMP/l1/index.json" 2>/dev/null || "$PY" -c 'import json,sys;print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$T_TMP/l1/index.json")
out=$(R push --layout "$T_TMP/l1" "$H/test/app:v1" 2>&1)
check_contains "push an OCI layout" "$out" "pushed $H/test/app:v1 $man"
out=$(R pull --root "$T_TMP/root" --progress none "$H/test/app:v1" 2>&1)
check_contains "pull by tag resolves to the pushed digest" "$out" "manifest $man"
same=yes
for b in "$T_TMP"/l1/blobs/sha256/*; do
    cmp -s "$b" "$T_TMP/root/content/blobs/sha256/$(basename "$b")" || same=no
done
check_eq "every pulled blob equals the pushed one" yes "$same"
check_eq "no partial files left in the ingest area" "" "$(ls "$T_TMP/root/content/ingest/resume" 2>/dev/null)"
check_contains "the image store knows the pulled tag" "$(cat "$T_TMP/root/images.json" 2>&1)" "$H/test/app:v1"

out=$(R pull --root "$T_TMP/root" --progress plain "$H/test/app:v1" 2>&1)
check_contains "a second pull downloads nothing" "$out" "fetched 0 bytes 0"
out=$(R pull --root "$T_TMP/root-d" --progress none "$H/test/app@$man" 2>&1)
check_contains "pull by digest" "$out" "manifest $man"

out=$(R pull --root "$T_TMP/root" --progress none "$H/test/app:nope" 2>&1)
check_contains "unknown tag: not found with the full reference" "$out" "manifest \`$H/test/app:nope\`: not found"

# --- push from the store by digest to another repo, with a cross-repo mount ---
out=$(R push --root "$T_TMP/root" --local "$H/test/app:v1" --mount-from test/app --progress plain "$H/other/app:copy" 2>&1)
check_contains "push an image of the store under another name" "$out" "pushed $H/other/app:copy $man"
check_contains "layers are mounted from the other repository" "$out" "mounted"

# --- chunked uploads (PATCH with Content-Range, then PUT) and --scheme auto on loopback ---
make_layout "$T_TMP/lc" linux/amd64 2 300000 chunk >/dev/null
manc=$("$PY" -c 'import json,sys;print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$T_TMP/lc/index.json")
out=$("$REG_TOOL" --scheme auto --config "$CFG" --chunk-size 65536 push --layout "$T_TMP/lc" "$H/test/chunked:1" 2>&1)
check_contains "push in 64 KiB chunks (scheme auto = http on loopback)" "$out" "pushed $H/test/chunked:1 $manc"
out=$(R pull --root "$T_TMP/root-ch" --progress none "$H/test/chunked:1" 2>&1)
check_contains "the chunked upload pulls back verified" "$out" "layers 2 fetched 2"

# --- multi-platform index ---
make_layout "$T_TMP/multi" linux/amd64,linux/arm64/v8,linux/s390x 2 50000 m >/tmp/ctr-reg-plats.$$
mapfile -t plat_digests </tmp/ctr-reg-plats.$$; rm -f /tmp/ctr-reg-plats.$$
out=$(R push --layout "$T_TMP/multi" "$H/test/multi:latest" 2>&1)
idx=$(printf '%s\n' "$out" | awk '/^pushed/ {print $3}')
out=$(R inspect "$H/test/multi:latest" 2>&1)
check_contains "the pushed tag is an OCI index" "$out" "MediaType: application/vnd.oci.image.index.v1+json"
check_contains "the index lists arm64/v8" "$out" "${plat_digests[1]} linux/arm64/v8"
out=$(R pull --root "$T_TMP/root-m" --progress none "$H/test/multi:latest" 2>&1)
check_contains "pull of an index picks linux/amd64" "$out" "manifest ${plat_digests[0]}"
check_contains "the index digest is reported" "$out" "index $idx"
out=$(R pull --root "$T_TMP/root-m" --platform linux/arm64 --progress none "$H/test/multi:latest" 2>&1)
check_contains "--platform linux/arm64 picks the arm64/v8 manifest" "$out" "manifest ${plat_digests[1]}"
out=$(R pull --root "$T_TMP/root-m" --platform linux/riscv64 --progress none "$H/test/multi:latest" 2>&1)
check_contains "a missing platform is named with what is available" "$out" "no image for platform \`linux/riscv64\` (available: linux/amd64, linux/arm64/v8, linux/s390x)"

# --- skopeo reads what we pushed; we pull what skopeo pushed (gzip and zstd) ---
if command -v skopeo >/dev/null; then
    SK="skopeo --insecure-policy"
    out=$($SK inspect --tls-verify=false --raw "docker://$H/test/app:v1" 2>&1)
    check_eq "skopeo inspect --raw returns our manifest" "$man" "sha256:$(printf '%s' "$out" | sha256sum | cut -d' ' -f1)"
    rm -rf "$T_TMP/sk-out"
    check "skopeo copy reads our image into an OCI layout" \
        $SK copy --src-tls-verify=false "docker://$H/test/app:v1" "oci:$T_TMP/sk-out:app"
    out=$($SK inspect --tls-verify=false "docker://$H/test/multi:latest" 2>&1)
    check_contains "skopeo inspect resolves our index" "$out" "\"Digest\": \"$idx\""
    check_contains "and reads the amd64 image of it" "$out" "\"Architecture\": \"amd64\""

    # Separate sources with fresh content, zstd first: skopeo's blob-info cache would
    # otherwise reuse layers it already pushed in another compression.
    make_layout "$T_TMP/sk-zsrc" linux/amd64 2 70000 "z$RANDOM$$" tar >/dev/null
    check "skopeo copy pushes a zstd image" \
        $SK copy --dest-tls-verify=false --dest-compress-format zstd --format oci \
        "oci:$T_TMP/sk-zsrc" "docker://$H/sk/zstd:1"
    mt=$($SK inspect --tls-verify=false --raw "docker://$H/sk/zstd:1" 2>&1)
    check_contains "skopeo wrote zstd layers" "$mt" "tar+zstd"
    out=$(R pull --root "$T_TMP/root-sk" --progress none "$H/sk/zstd:1" 2>&1)
    check_contains "we pull what skopeo pushed (zstd)" "$out" "layers 2 fetched 2"
    make_layout "$T_TMP/sk-src" linux/amd64 2 70000 "g$RANDOM$$" tar >/dev/null
    check "skopeo copy pushes a gzip image" \
        $SK copy --dest-tls-verify=false "oci:$T_TMP/sk-src" "docker://$H/sk/gzip:1"
    mt=$($SK inspect --tls-verify=false --raw "docker://$H/sk/gzip:1" 2>&1)
    check_contains "skopeo wrote gzip layers" "$mt" "tar+gzip"
    out=$(R pull --root "$T_TMP/root-sk" --progress none "$H/sk/gzip:1" 2>&1)
    check_contains "we pull what skopeo pushed (gzip)" "$out" "layers 2 fetched 2"
    check "skopeo docker v2s2 push" \
        $SK copy --dest-tls-verify=false --format v2s2 "oci:$T_TMP/sk-src" "docker://$H/sk/v2s2:1"
    out=$(R pull --root "$T_TMP/root-sk2" --progress none "$H/sk/v2s2:1" 2>&1)
    check_contains "we pull a docker v2 schema 2 image" "$out" "layers 2 fetched 2"
else
    skip "skopeo is not installed (apt-get install skopeo): interop not tested"
fi

# --- a tampering proxy: a corrupted blob is refused and never becomes visible ---
make_layout "$T_TMP/l2" linux/amd64 2 300000 c >/dev/null
R push --layout "$T_TMP/l2" "$H/test/tamper:1" >/dev/null 2>&1
layer=$("$PY" -c 'import json,sys;m=json.load(open(sys.argv[1]+"/blobs/sha256/"+json.load(open(sys.argv[1]+"/index.json"))["manifests"][0]["digest"][7:]));print(m["layers"][1]["digest"])' "$T_TMP/l2")
start_proxy corrupt "$layer" 0 "$REG_PORT_plain"
out=$(R pull --root "$T_TMP/root-t" --progress none "127.0.0.1:$PROXY_PORT/test/tamper:1" 2>&1)
rc=$?
check_eq "a pull through a corrupting proxy fails" 1 "$rc"
check_contains "the error names the corrupted digest" "$out" "blob \`$layer\` failed verification"
check_eq "the corrupted blob is not in the store" no "$([ -e "$T_TMP/root-t/content/blobs/sha256/${layer#sha256:}" ] && echo yes || echo no)"
check_eq "and no partial file remains for it" no "$([ -e "$T_TMP/root-t/content/ingest/resume/sha256-${layer#sha256:}.partial" ] && echo yes || echo no)"
kill "$PROXY_PID" 2>/dev/null

# --- an interrupted download: the partial file stays, the next pull resumes with Range ---
: >"$T_TMP/proxy.log"
start_proxy cut "$layer" 100000 "$REG_PORT_plain"
out=$(R --retries 0 pull --root "$T_TMP/root-c" --progress none "127.0.0.1:$PROXY_PORT/test/tamper:1" 2>&1)
check_eq "a pull whose connection is cut fails without retries" 1 "$?"
psize=$(stat -c %s "$T_TMP/root-c/content/ingest/resume/sha256-${layer#sha256:}.partial" 2>/dev/null || echo 0)
check_eq "the partial blob is kept in the ingest area" 100000 "$psize"
check_eq "and is not visible as a blob" no "$([ -e "$T_TMP/root-c/content/blobs/sha256/${layer#sha256:}" ] && echo yes || echo no)"
out=$(R pull --root "$T_TMP/root-c" --progress none "127.0.0.1:$PROXY_PORT/test/tamper:1" 2>&1)
check_contains "the next pull completes" "$out" "manifest "
check_contains "it asked only for the missing bytes" "$(cat "$T_TMP/proxy.log")" "/blobs/$layer bytes=100000-"
check_eq "the resumed blob verifies" "$layer" "$(file_digest "$T_TMP/root-c/content/blobs/sha256/${layer#sha256:}")"
kill "$PROXY_PID" 2>/dev/null

# within one pull: the connection is cut and the client resumes by itself
: >"$T_TMP/proxy.log"
start_proxy cut "$layer" 150000 "$REG_PORT_plain"
out=$(R pull --root "$T_TMP/root-c2" --progress plain "127.0.0.1:$PROXY_PORT/test/tamper:1" 2>&1)
check_contains "a cut connection is resumed within the same pull" "$out" "manifest "
check_contains "with a Range request" "$(cat "$T_TMP/proxy.log")" "/blobs/$layer bytes=150000-"
kill "$PROXY_PID" 2>/dev/null

# --- blob downloads redirected to another host:port are followed ---
: >"$T_TMP/proxy.log"
start_proxy redirect - 0 "$REG_PORT_plain"
out=$(R pull --root "$T_TMP/root-r" --progress none "127.0.0.1:$PROXY_PORT/test/tamper:1" 2>&1)
check_contains "a pull whose blobs are redirected completes" "$out" "layers 2 fetched 2"
check_contains "the blobs went through the redirect" "$(cat "$T_TMP/proxy.log")" "GET /v2/test/tamper/blobs/$layer"
kill "$PROXY_PID" 2>/dev/null

# --- registry down: a clear error, bounded retries ---
port=$(free_port)
t0=$(date +%s)
out=$(R --retries 2 pull --root "$T_TMP/root-x" --progress none "127.0.0.1:$port/x/y:1" 2>&1)
check_contains "an unreachable registry is named in the error" "$out" "registry \`127.0.0.1:$port\` (gave up after 3 attempts)"
check "retries are bounded in time" test $(( $(date +%s) - t0 )) -lt 10

plan_end
