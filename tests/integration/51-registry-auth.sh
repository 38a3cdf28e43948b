#!/usr/bin/env bash
# Registry authentication against docker-registry on 127.0.0.1: TLS with a CA made here
# (refused until placed under certs.d), htpasswd basic auth with login/logout/list,
# wrong passwords, a docker-credential helper, and the bearer token flow with a token
# server the test runs.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/50-registry-lib.bash"
plan_start

if [ ! -x /usr/bin/docker-registry ]; then
    need "docker-registry is not installed (apt-get install docker-registry)"
fi
if ! command -v htpasswd >/dev/null; then
    need "htpasswd is not installed (apt-get install apache2-utils)"
fi
[ -x "$REG_TOOL" ] || { not_ok "ctr-registry is not built ($REG_TOOL)"; plan_end; exit; }

# ---------- TLS + htpasswd ----------
make_tls "$T_TMP/tls" || { not_ok "openssl could not make the test CA"; plan_end; exit; }
htpasswd -Bbn alice 's3cret pw' >"$T_TMP/htpasswd"
cat >"$T_TMP/auth-htpasswd.yml" <<YML
auth:
  htpasswd:
    realm: ctr-test
    path: $T_TMP/htpasswd
YML
REG_TLS_CERT=$T_TMP/tls/server.crt REG_TLS_KEY=$T_TMP/tls/server.key \
    start_registry tls "$T_TMP/auth-htpasswd.yml" || { not_ok "start docker-registry (tls)"; plan_end; exit; }
H=127.0.0.1:$REG_PORT_tls
CERTS=$T_TMP/certs.d
CFG=$T_TMP/dockercfg
mkdir -p "$CERTS"
R() { "$REG_TOOL" --config "$CFG" --certs-dir "$CERTS" "$@"; }

out=$(R ping "$H" 2>&1)
check_eq "an unknown CA is refused" 1 "$?"
check_contains "the TLS error gives the reason" "$out" "certificate"
check_contains "and the certs.d hint" "$out" "place it at \`$CERTS/$H/ca.crt\`"

mkdir -p "$CERTS/$H"
cp "$T_TMP/tls/ca.crt" "$CERTS/$H/ca.crt"
out=$(R ping "$H" 2>&1)
check_contains "with the CA under certs.d TLS works and the registry asks for credentials" "$out" \
    "unauthorized: \`$H\` requires authentication; log in with"

out=$(echo 'wrong' | R login --username alice --password-stdin "$H" 2>&1)
check_eq "login with a wrong password fails" 1 "$?"
check_contains "wrong password: unauthorized naming the registry" "$out" "unauthorized: \`$H\` rejected the credentials of \`alice\`"
check_eq "nothing was stored" no "$([ -e "$CFG/config.json" ] && echo yes || echo no)"

out=$(echo 's3cret pw' | R login --username alice --password-stdin "$H" 2>&1)
check_contains "login with the right password" "$out" "login succeeded"
check_eq "config.json is mode 0600" 600 "$(stat -c %a "$CFG/config.json" 2>/dev/null)"
auth=$("$PY" -c 'import json,sys;print(json.load(open(sys.argv[1]))["auths"][sys.argv[2]]["auth"])' "$CFG/config.json" "$H" 2>&1)
check_eq "config.json holds docker's base64 user:password" "alice:s3cret pw" "$(echo "$auth" | base64 -d 2>&1)"
check_contains "list shows the registry and user" "$(R list 2>&1)" "$H	alice"

make_layout "$T_TMP/l1" linux/amd64 2 100000 tls >/dev/null
man=$("$PY" -c 'import json,sys;print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$T_TMP/l1/index.json")
out=$(R push --layout "$T_TMP/l1" "$H/private/app:1" 2>&1)
check_contains "push with stored credentials over TLS" "$out" "pushed $H/private/app:1 $man"
out=$(R pull --root "$T_TMP/root" --progress none "$H/private/app:1" 2>&1)
check_contains "pull with stored credentials over TLS" "$out" "manifest $man"
if command -v skopeo >/dev/null; then
    out=$(skopeo inspect --cert-dir "$CERTS/$H" --creds 'alice:s3cret pw' --raw "docker://$H/private/app:1" 2>&1)
    check_eq "skopeo (with the same CA and credentials) reads what we pushed" "$man" \
        "sha256:$(printf '%s' "$out" | sha256sum | cut -d' ' -f1)"
fi

out=$(R logout "$H" 2>&1)
check_contains "logout" "$out" "removed credentials"
check_eq "the entry is gone from config.json" "" "$("$PY" -c 'import json,sys;print(" ".join(json.load(open(sys.argv[1])).get("auths",{})))' "$CFG/config.json")"
out=$(R pull --root "$T_TMP/root2" --progress none "$H/private/app:1" 2>&1)
check_contains "after logout a pull is unauthorized" "$out" "unauthorized: \`$H\` requires authentication"
out=$(R logout "$H" 2>&1)
check_contains "a second logout says so" "$out" "not logged in to \`$H\`"

# a docker-credential helper (credsStore) instead of auths
mkdir -p "$T_TMP/helper-bin"
cat >"$T_TMP/helper-bin/docker-credential-ctrtest" <<'SH'
#!/bin/sh
store=${CTRTEST_STORE:?}
case "$1" in
store) cat >"$store" ;;
get) read -r url; [ -s "$store" ] || { echo "credentials not found in native keychain"; exit 1; }
     python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({"ServerURL":d["ServerURL"],"Username":d["Username"],"Secret":d["Secret"]}))' "$store" ;;
erase) read -r url; [ -s "$store" ] || { echo "credentials not found in native keychain"; exit 1; }; : >"$store" ;;
list) [ -s "$store" ] && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({d["ServerURL"]:d["Username"]}))' "$store" || echo '{}' ;;
esac
SH
chmod +x "$T_TMP/helper-bin/docker-credential-ctrtest"
export CTRTEST_STORE=$T_TMP/helper-store.json
CFG2=$T_TMP/dockercfg2
mkdir -p "$CFG2"
echo '{"credsStore": "ctrtest"}' >"$CFG2/config.json"
RH() { PATH="$T_TMP/helper-bin:$PATH" "$REG_TOOL" --config "$CFG2" --certs-dir "$CERTS" "$@"; }
out=$(echo 's3cret pw' | RH login --username alice --password-stdin "$H" 2>&1)
check_contains "login through a credential helper" "$out" "login succeeded"
check_contains "the helper received the secret" "$(cat "$CTRTEST_STORE" 2>/dev/null)" '"Secret":"s3cret pw"'
check_eq "config.json got no auths entry" no "$(grep -q auths "$CFG2/config.json" && echo yes || echo no)"
out=$(RH pull --root "$T_TMP/root3" --progress none "$H/private/app:1" 2>&1)
check_contains "pull with credentials from the helper" "$out" "manifest $man"
check_contains "list asks the helper" "$(RH list 2>&1)" "$H	alice"
check_contains "logout through the helper" "$(RH logout "$H" 2>&1)" "removed credentials"
check_eq "the helper erased them" "" "$(cat "$CTRTEST_STORE")"

# ---------- bearer tokens ----------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ctr token signer" \
    -keyout "$T_TMP/token.key" -out "$T_TMP/token.crt" >/dev/null 2>&1
if ! "$PY" -c 'import cryptography' 2>/dev/null; then
    skip "python3 cryptography is missing (apt-get install python3-cryptography): token flow not tested"
    plan_end; exit
fi
start_token_server bob hunter2 "$T_TMP/token.key" "$T_TMP/token.crt"
cat >"$T_TMP/auth-token.yml" <<YML
auth:
  token:
    realm: http://127.0.0.1:$TOKEN_PORT/token
    service: ctr-test-registry
    issuer: test-issuer
    rootcertbundle: $T_TMP/token.crt
YML
REG_TLS_CERT= start_registry tok "$T_TMP/auth-token.yml" || { not_ok "start docker-registry (token)"; plan_end; exit; }
HT=127.0.0.1:$REG_PORT_tok
CFG3=$T_TMP/dockercfg3
RT() { "$REG_TOOL" --scheme http --config "$CFG3" "$@"; }

out=$(RT pull --root "$T_TMP/root4" --progress none "$HT/team/app:1" 2>&1)
check_contains "anonymous pull from a token registry is refused" "$out" "unauthorized"
out=$(echo nope | RT login --username bob --password-stdin "$HT" 2>&1)
check_contains "token server refuses a wrong password: unauthorized naming the registry" "$out" \
    "unauthorized: \`$HT\` rejected the credentials of \`bob\`"
out=$(echo hunter2 | RT login --username bob --password-stdin "$HT" 2>&1)
check_contains "login against the token server" "$out" "login succeeded"
out=$(RT push --layout "$T_TMP/l1" "$HT/team/app:1" 2>&1)
check_contains "push with a bearer token" "$out" "pushed $HT/team/app:1 $man"
check_contains "the token was asked for push scope" "$(cat "$T_TMP/token.log")" "bob repository:team/app:pull,push"
out=$(RT pull --root "$T_TMP/root4" --progress none "$HT/team/app:1" 2>&1)
check_contains "pull with a bearer token" "$out" "manifest $man"
n=$(grep -c 'bob repository:team/app:pull$' "$T_TMP/token.log")
check_eq "one token per scope for the whole pull (cached)" 1 "$n"
out=$(RT push --layout "$T_TMP/l1" --mount-from team/app "$HT/team/copy:1" --progress plain 2>&1)
check_contains "cross-repository mount with a two-scope token" "$out" "mounted"
check_contains "the token covered both repositories" "$(cat "$T_TMP/token.log")" \
    "repository:team/copy:pull,push repository:team/app:pull"

plan_end
