#!/usr/bin/env bash
# Images from registries through the daemon and the CLI: push then pull back
# (digests equal), pull by digest, the docker CLI against our API, login with
# htpasswd over TLS (CA under certs.d, found through CONTAINER_CERTS_DIR by both the
# CLI and the daemon), wrong password refused, `run` pulling a missing image, and the
# store GC after `image rm` / `image prune -a` (bytes on disk go down, a container's
# snapshot survives). One VM at most.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
source "$(dirname "$0")/50-registry-lib.bash"
plan_start

[ -x /usr/bin/docker-registry ] || need "docker-registry is not installed (apt-get install docker-registry)"
command -v htpasswd >/dev/null || need "htpasswd is not installed (apt-get install apache2-utils)"
registry_cli_setup

img_id() { curl -s --unix-socket "$SOCK" "http://d/images/$1/json" | jq -r .Id; }
bytes() { du -sB1 "$DATA/content/blobs" "$DATA/snapshots" | awk '{s += $1} END {print s}'; }
bb=$(img_id busybox:latest)

# ---- push then pull back through the CLI ----
c image tag busybox:latest "$H/test/bb:v1"
check_eq "image tag to a registry name" 0 "$rc"
c image push "$H/test/bb:v1"
check_eq "image push (http on loopback: scheme auto)" 0 "$rc"
check_contains "push reports the digest as docker does" "$out" "v1: digest: $bb size:"
check_contains "push reports layers" "$out" "Pushed"
c image push "$H/test/bb:v1"
check_contains "a second push finds the layers there" "$out" "Layer already exists"
remote=$(curl -sI -H "Accept: application/vnd.oci.image.manifest.v1+json" "http://$H/v2/test/bb/manifests/v1" | tr -d "\r" | grep -i docker-content-digest)
check_contains "the registry has the local manifest digest" "$remote" "$bb"
c image rm "$H/test/bb:v1"
check_contains "untag the registry name" "$out" "Untagged: $H/test/bb:v1"
c image pull "$H/test/bb:v1"
check_eq "image pull" 0 "$rc"
check_contains "pull prints the digest" "$out" "Digest: $bb"
check_eq "pulled back: the same image" "$bb" "$(img_id "$H/test/bb:v1")"

# ---- pull by digest, then GC when it is removed ----
make_layout "$T_TMP/l1" linux/amd64 3 300000 gc >/dev/null
man=$(jq -r '.manifests[0].digest' "$T_TMP/l1/index.json")
"$REG_TOOL" --scheme http --config "$T_TMP/none" push --layout "$T_TMP/l1" "$H/test/app:v1" >/dev/null 2>&1 ||
    not_ok "ctr-registry push of a test layout"
before=$(bytes)
c image pull "$H/test/app@$man"
check_eq "pull by digest" 0 "$rc"
check_eq "the image is known by its digest" "$man" "$(img_id "$H/test/app@$man")"
check_contains "RepoDigests holds the pulled digest" \
    "$(curl -s --unix-socket "$SOCK" "http://d/images/$man/json" | jq -c .RepoDigests)" "$H/test/app@$man"
layer=$(jq -r '.layers[0].digest' "$T_TMP/l1/blobs/sha256/${man#sha256:}")
check "a pulled layer is in the store" test -f "$DATA/content/blobs/sha256/${layer#sha256:}"
mid=$(bytes)
c image rm "$H/test/app@$man"
check_contains "image rm by digest deletes the image" "$out" "Deleted: $man"
check "rm garbage-collects its layer blobs" test ! -e "$DATA/content/blobs/sha256/${layer#sha256:}"
after=$(bytes)
diag "store bytes: before pull $before, after pull $mid, after rm $after"
check "bytes on disk go down after rm" test "$after" -lt "$mid"
check "busybox still whole after the GC" test -f "$DATA/content/blobs/sha256/${bb#sha256:}"

# ---- the docker CLI against our API ----
if command -v docker >/dev/null; then
    out=$(docker pull "$H/test/app:v1" 2>&1)
    check_contains "docker pull through our API" "$out" "Digest: $man"
    out=$(docker tag "$H/test/app:v1" "$H/test/app:docker" 2>&1 && docker push "$H/test/app:docker" 2>&1)
    check_contains "docker push through our API" "$out" "docker: digest: $man"
    docker rmi "$H/test/app:v1" "$H/test/app:docker" >/dev/null 2>&1
else
    skip "docker CLI not installed: docker pull/push not checked"
fi
# The raw API: name + tag query, as docker sends it.
curl -s --unix-socket "$SOCK" -X POST -H "X-Registry-Auth: e30=" \
    "http://d/images/$H/test/bb/push?tag=v1" >"$T_TMP/push.json"
check_contains "POST /images/{name}/push?tag= streams the aux digest" \
    "$(jq -c 'select(.aux) | .aux' "$T_TMP/push.json")" "\"Digest\":\"$bb\""
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X POST "http://d/images/$H/test/nope/push?tag=x")
check_eq "push of an unknown local image: 404" 404 "$code"
c image pull "$H/test/app:nope"
check_contains "unknown tag: not found with the full reference" "$out" "manifest \`$H/test/app:nope\`: not found"

# ---- htpasswd over TLS: CA in certs.d, login, wrong password ----
make_tls "$T_TMP/tls" || not_ok "openssl could not make the test CA"
htpasswd -Bbn alice 's3cret pw' >"$T_TMP/htpasswd"
printf 'auth:\n  htpasswd:\n    realm: ctr-test\n    path: %s\n' "$T_TMP/htpasswd" >"$T_TMP/auth.yml"
if REG_TLS_CERT=$T_TMP/tls/server.crt REG_TLS_KEY=$T_TMP/tls/server.key start_registry tls "$T_TMP/auth.yml"; then
    HT=127.0.0.1:$REG_PORT_tls
    c registry login --scheme https --username alice --password-stdin "$HT" <<<'s3cret pw'
    check_contains "without the CA, TLS is refused with the certs.d hint" "$out" "$CONTAINER_CERTS_DIR/$HT/ca.crt"
    # auto tries https first on loopback; with the CA in certs.d it stays there.
    mkdir -p "$CONTAINER_CERTS_DIR/$HT" && cp "$T_TMP/tls/ca.crt" "$CONTAINER_CERTS_DIR/$HT/"
    c registry login --username alice --password-stdin "$HT" <<<'wrong'
    check_eq "wrong password refused" 1 "$rc"
    check_contains "with \"unauthorized\"" "$out" "unauthorized"
    check_contains "naming the registry" "$out" "$HT"
    c image tag busybox:latest "$HT/priv/bb:1"
    c image push "$HT/priv/bb:1"
    check_contains "push without login: unauthorized" "$out" "unauthorized"
    c registry login --username alice --password-stdin "$HT" <<<'s3cret pw'
    check_contains "login over TLS with the CA in certs.d" "$out" "Login succeeded"
    check_eq "credentials stored 0600" 600 "$(stat -c %a "$DOCKER_CONFIG/config.json")"
    c image push "$HT/priv/bb:1"
    check_contains "push with the stored credentials" "$out" "1: digest: $bb"
    c image rm "$HT/priv/bb:1"
    c image pull "$HT/priv/bb:1"
    check_contains "pull with the stored credentials" "$out" "Digest: $bb"
    c registry logout "$HT"
    c image pull "$HT/priv/bb:1"
    check_contains "after logout: unauthorized" "$out" "unauthorized"
else
    not_ok "start docker-registry with TLS and htpasswd"
fi

# ---- a container's snapshot survives rm -f; prune -a sweeps it after ----
c image tag busybox:latest "$H/test/auto:1"
c image push "$H/test/auto:1"
c create --name keep "$H/test/auto:1" true
check_eq "create from the registry image" 0 "$rc"
snap=$DATA/snapshots/${bb#sha256:}
c image rm -f busybox:latest "$H/test/bb:v1" "$H/test/auto:1"
check_eq "image rm -f of every name" 0 "$rc"
check "a snapshot a container uses is kept" test -f "$snap/image.ext4"
c rm keep
c image prune -a
check_eq "image prune -a" 0 "$rc"
check "prune -a removes the snapshot no container uses" test ! -e "$snap"
check_eq "and every blob" "" "$(ls "$DATA/content/blobs/sha256")"
c system df
check_eq "system df reports the store" 0 "$rc"

# ---- run pulls a missing image (one VM) ----
c run --rm "$H/test/auto:1" echo pulled-and-ran
check_contains "run of a missing image pulls it" "$out" "Unable to find image '$H/test/auto:1' locally"
check_contains "then runs it" "$out" "pulled-and-ran"
check_eq "the pulled image is the pushed one" "$bb" "$(img_id "$H/test/auto:1")"

plan_end
