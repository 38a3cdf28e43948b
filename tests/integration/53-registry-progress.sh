#!/usr/bin/env bash
# `image pull/push` flags through the CLI and the daemon: --progress plain (per-layer
# lines with byte counts from the daemon's progressDetail), none (only the result),
# ansi (redrawn in place, totals); --os/--arch picking from a multi-platform index;
# --max-concurrent-downloads and --scheme carried to the daemon; scheme auto on a
# loopback TLS registry: https first, the certs.d hint instead of "HTTP 400". No VM.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
source "$(dirname "$0")/50-registry-lib.bash"
plan_start

[ -x /usr/bin/docker-registry ] || need "docker-registry is not installed (apt-get install docker-registry)"
registry_cli_setup

img_json() { curl -s --unix-socket "$SOCK" "http://d/images/$1/json"; }

# A 3-layer image of ~1 MB layers: several byte-progress events per layer.
make_layout "$T_TMP/l" linux/amd64 3 1000000 prog >/dev/null
man=$(jq -r '.manifests[0].digest' "$T_TMP/l/index.json")
"$REG_TOOL" --scheme http --config "$T_TMP/none" push --layout "$T_TMP/l" "$H/test/prog:1" >/dev/null 2>&1 ||
    not_ok "ctr-registry push of a test layout"

# ---- --progress plain: one line per event, per layer ----
c image pull --progress plain "$H/test/prog:1"
check_eq "pull --progress plain" 0 "$rc"
check_contains "a header line" "$out" "Pulling from test/prog"
n=$(grep -cE '^[0-9a-f]{12}: Pulling fs layer$' <<<"$out")
check_eq "a line per blob starting (3 layers and the config)" 4 "$n"
check "byte counts from progressDetail" grep -qE '^[0-9a-f]{12}: Downloading [0-9.]+[kM]?B/[0-9.]+[kM]?B \(' <<<"$out"
n=$(grep -cE '^[0-9a-f]{12}: Download complete' <<<"$out")
check_eq "a completion line per blob" 4 "$n"
check_contains "then the result" "$out" "Digest: $man"
check "no terminal escapes in plain" bash -c '! grep -q $'"'"'\033'"'"' <<<"$1"' _ "$out"
check_eq "not a terminal: plain is the default" "$(timeout 300 "$BIN/container" image pull "$H/test/prog:1" 2>&1 | head -1)" "Pulling from test/prog"

# ---- --progress none: only the result ----
c image rm "$H/test/prog:1"
c image prune -a
c image pull --progress none "$H/test/prog:1"
check_eq "pull --progress none" 0 "$rc"
check_eq "none prints only the digest and status lines" \
    "Digest: $man|Status: Downloaded newer image for $H/test/prog:1" "$(tr '\n' '|' <<<"$out" | sed 's/|$//')"

# ---- --progress ansi: redrawn in place, with totals ----
c image rm "$H/test/prog:1"
c image prune -a
c image pull --progress ansi --max-concurrent-downloads 1 "$H/test/prog:1"
check_eq "pull --progress ansi --max-concurrent-downloads 1" 0 "$rc"
check_contains "ansi moves the cursor up" "$out" $'\033['"4A"
check_contains "ansi shows the overall line with the final total" "$out" "Total: 3MB/3MB"
check_contains "ansi ends with the result" "$out" "Digest: $man"

# ---- push: the same renderer ----
c image tag "$H/test/prog:1" "$H/test/prog:2"
c image push --progress plain "$H/test/prog:2"
check_eq "push --progress plain" 0 "$rc"
check "push: per-layer lines" grep -qE '^[0-9a-f]{12}: Layer already exists' <<<"$out"
check_contains "push: the digest line" "$out" "2: digest: $man"
c image push --progress none "$H/test/prog:2"
check_eq "push --progress none prints only the result" "2: digest: $man size: $(jq -r '.manifests[0].size' "$T_TMP/l/index.json")" "$out"

# ---- bad values name the flag ----
c image pull --progress fancy "$H/test/prog:1"
check_contains "bad --progress" "$out" "invalid value \`fancy\` for \`--progress\`"
c image pull --max-concurrent-downloads 0 "$H/test/prog:1"
check_contains "bad --max-concurrent-downloads" "$out" "--max-concurrent-downloads"
c image pull --scheme gopher "$H/test/prog:1"
check_contains "bad --scheme" "$out" "invalid value \`gopher\` for \`--scheme\`"
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X POST "http://d/images/create?fromImage=$H/test/prog:1&maxConcurrentDownloads=99")
check_eq "the daemon refuses maxConcurrentDownloads=99" 400 "$code"

# ---- --scheme carried to the daemon ----
c image pull --scheme https --progress none "$H/test/prog:1"
check_eq "--scheme https against a plain-http registry fails" 1 "$rc"
check_contains "with the TLS reason" "$out" "tls connection to \`$H\` failed"
c image pull --scheme http --progress none "$H/test/prog:1"
check_eq "--scheme http works" 0 "$rc"

# ---- --os/--arch pick from a multi-platform index ----
make_layout "$T_TMP/m" linux/amd64,linux/arm64/v8 1 20000 plat >/tmp/ctr-reg-plats.$$
mapfile -t plat_digests </tmp/ctr-reg-plats.$$
rm -f /tmp/ctr-reg-plats.$$
"$REG_TOOL" --scheme http --config "$T_TMP/none" push --layout "$T_TMP/m" "$H/test/multi:1" >/dev/null 2>&1 ||
    not_ok "ctr-registry push of a multi-platform layout"
c image pull --arch amd64 --os linux --progress none "$H/test/multi:1"
check_eq "pull --arch amd64 --os linux" 0 "$rc"
check_eq "the amd64 image" amd64 "$(img_json "$H/test/multi:1" | jq -r '.Architecture // .message')"
c image rm "$H/test/multi:1"
c image pull --arch arm64 --progress none "$H/test/multi:1"
check_eq "pull --arch arm64 (os: the host's)" 0 "$rc"
check_contains "picks the arm64/v8 manifest and says it stays untagged here" "$out" "Warning: ${plat_digests[1]} for linux/arm64 is stored but not tagged"
c image pull --platform linux/s390x --progress none "$H/test/multi:1"
check_contains "a platform the index lacks is refused" "$out" "s390x"

# ---- scheme auto on a loopback TLS registry: https first ----
make_tls "$T_TMP/tls" || not_ok "openssl could not make the test CA"
if REG_TLS_CERT=$T_TMP/tls/server.crt REG_TLS_KEY=$T_TMP/tls/server.key start_registry tls; then
    HT=127.0.0.1:$REG_PORT_tls
    c image tag "$H/test/prog:1" "$HT/test/prog:1"
    c image push --progress none "$HT/test/prog:1"
    check_eq "auto on a TLS loopback registry without its CA fails" 1 "$rc"
    check_contains "with the certs.d hint, not HTTP 400" "$out" "$CONTAINER_CERTS_DIR/$HT/ca.crt"
    mkdir -p "$CONTAINER_CERTS_DIR/$HT" && cp "$T_TMP/tls/ca.crt" "$CONTAINER_CERTS_DIR/$HT/"
    c image push --progress none "$HT/test/prog:1"
    check_eq "auto: https with the CA in certs.d" 0 "$rc"
    rm -rf "${CONTAINER_CERTS_DIR:?}/$HT"
    c image pull --scheme http --progress none "$HT/test/prog:1"
    check_eq "explicit http against TLS fails" 1 "$rc"
else
    not_ok "start docker-registry with TLS"
fi

plan_end
