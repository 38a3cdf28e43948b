# Helpers for the registry integration tests (sourced by 5*-registry*.sh after tests/lib.sh):
# a local docker-registry on 127.0.0.1, test OCI layouts, a tampering proxy and a
# token server, all in python3 and all on loopback.
REG_TOOL=$BIN/ctr-registry
PY=${PYTHON:-python3}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT: until something listens (10 s)
port_open() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }
wait_port() { wait_for 10 port_open "$1"; }

# start_registry NAME [EXTRA_YAML_FILE]: a docker-registry with its own storage; sets
# REG_PORT_<NAME>; EXTRA is appended to the config (auth/tls blocks).
start_registry() {
    local name=$1 extra=${2:-} port dir
    port=$(free_port)
    dir=$T_TMP/registry-$name
    mkdir -p "$dir/storage"
    cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: test-secret-$name
EOF
    # The tls block belongs under http, right after it.
    if [ -n "${REG_TLS_CERT:-}" ]; then
        printf '  tls:\n    certificate: %s\n    key: %s\n' "$REG_TLS_CERT" "$REG_TLS_KEY" >>"$dir/config.yml"
    fi
    [ -n "$extra" ] && cat "$extra" >>"$dir/config.yml"
    /usr/bin/docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    local pid=$!
    at_exit "kill $pid"
    eval "REG_PID_$name=$pid"
    eval "REG_PORT_$name=$port"
    wait_port "$port" || { diag "registry $name did not start:"; sed 's/^/#   /' "$dir/log"; return 1; }
}

# make_layout DIR [PLATFORMS] [LAYERS] [LAYER_BYTES] [SEED] [gzip|tar]: an OCI layout of
# random-content layers (gzip by default) (one image per platform, all in index.json with platform fields).
make_layout() {
    "$PY" - "$@" <<'EOF'
import gzip, hashlib, io, json, os, random, sys, tarfile
out = sys.argv[1]
plats = (sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else "linux/amd64").split(",")
nlayers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
size = int(sys.argv[4]) if len(sys.argv) > 4 else 4096
seed = sys.argv[5] if len(sys.argv) > 5 else "s"
compress = (sys.argv[6] if len(sys.argv) > 6 else "gzip") == "gzip"
os.makedirs(out + "/blobs/sha256", exist_ok=True)
def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(out + "/blobs/sha256/" + d, "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)
entries = []
for p in plats:
    parts = p.split("/")
    rng = random.Random(seed + p)
    layers, diffids = [], []
    for i in range(nlayers):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            payload = rng.randbytes(size)
            ti = tarfile.TarInfo("layer%d/data.bin" % i)
            ti.size = len(payload); ti.mtime = 1700000000
            tf.addfile(ti, io.BytesIO(payload))
            txt = ("platform %s layer %d\n" % (p, i)).encode()
            ti = tarfile.TarInfo("layer%d/info.txt" % i)
            ti.size = len(txt); ti.mtime = 1700000000
            tf.addfile(ti, io.BytesIO(txt))
        raw = buf.getvalue()
        diffids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        d, n = put(gzip.compress(raw, mtime=0) if compress else raw)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else ""),
                       "digest": d, "size": n})
    cfg = {"architecture": parts[1], "os": parts[0], "config": {"Cmd": ["/bin/sh"]},
           "rootfs": {"type": "layers", "diff_ids": diffids}}
    if len(parts) > 2: cfg["variant"] = parts[2]
    cd, cn = put(json.dumps(cfg, sort_keys=True).encode())
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
           "layers": layers}
    md, mn = put(json.dumps(man, sort_keys=True).encode())
    plat = {"architecture": parts[1], "os": parts[0]}
    if len(parts) > 2: plat["variant"] = parts[2]
    entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
                    "platform": plat})
with open(out + "/index.json", "w") as f:
    json.dump({"schemaVersion": 2, "manifests": entries}, f)
with open(out + "/oci-layout", "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
for e in entries:
    print(e["digest"])
EOF
}

# start_proxy MODE DIGEST ARG UPSTREAM_PORT: a loopback HTTP proxy in front of a registry.
# MODE corrupt: flip one byte of blob DIGEST; cut: close the connection after ARG bytes of
# blob DIGEST (first time only); redirect: answer every blob GET with a 307 to the
# registry itself; pass: forward. Logs "METHOD PATH RANGE" lines to
# $T_TMP/proxy.log. Sets PROXY_PORT.
start_proxy() {
    PROXY_PORT=$(free_port)
    "$PY" - "$PROXY_PORT" "$@" "$T_TMP/proxy.log" >"$T_TMP/proxy.out" 2>&1 <<'EOF' &
import http.client, http.server, sys, threading
port, mode, digest, arg, upstream, logf = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
state = {"cut_done": False}
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        with lock, open(logf, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, self.headers.get("Range", "-")))
        if mode == "redirect" and self.command == "GET" and "/blobs/sha256:" in self.path:
            # Send blob downloads to the registry itself (another host:port), as a
            # registry with an object-store backend would.
            self.send_response_only(307, "Temporary Redirect")
            self.send_header("Location", "http://localhost:%d%s" % (upstream, self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        c = http.client.HTTPConnection("127.0.0.1", upstream, timeout=60)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read() if self.command != "HEAD" else b""
        is_blob = self.command == "GET" and self.path.endswith("/blobs/" + digest) and r.status in (200, 206)
        if is_blob and mode == "corrupt" and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        self.send_response_only(r.status, r.reason)
        for k, v in r.getheaders():
            if k.lower() in ("transfer-encoding", "connection", "content-length"):
                continue
            self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", r.getheader("Content-Length", "0"))
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if is_blob and mode == "cut":
            with lock:
                cut = not state["cut_done"]
                state["cut_done"] = True
            if cut:
                self.wfile.write(data[:int(arg)])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
        if data:
            self.wfile.write(data)
    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
    local pid=$!
    at_exit "kill $pid"
    PROXY_PID=$pid
    wait_port "$PROXY_PORT"
}

# sha256 of a file as "sha256:<hex>"
file_digest() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }

# make_tls DIR: a CA (DIR/ca.crt) and a server certificate for 127.0.0.1 signed by it
# (DIR/server.crt, DIR/server.key).
make_tls() {
    local d=$1
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ctr test CA" \
        -keyout "$d/ca.key" -out "$d/ca.crt" >/dev/null 2>&1 || return 1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 || return 1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
        -days 2 -extfile "$d/ext.cnf" -out "$d/server.crt" >/dev/null 2>&1
}

# start_token_server USER PASS KEY CERT: a token server for `auth: token` registries.
# Issues RS256 JWTs (x5c = CERT) granting the requested actions to USER (checked with basic
# auth), and nothing to anonymous callers. Replies with `access_token` only. Logs
# "account scope" lines to $T_TMP/token.log. Sets TOKEN_PORT.
start_token_server() {
    TOKEN_PORT=$(free_port)
    "$PY" - "$TOKEN_PORT" "$@" "$T_TMP/token.log" >"$T_TMP/token.out" 2>&1 <<'EOF' &
import base64, http.server, json, os, sys, time, urllib.parse
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
port, user, pw, keyf, certf, logf = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
key = serialization.load_pem_private_key(open(keyf, "rb").read(), None)
pem = open(certf).read()
der_b64 = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
b64u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        account = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            u_, _, p_ = base64.b64decode(auth[6:]).decode().partition(":")
            if u_ != user or p_ != pw:
                self.send_response(401); self.send_header("Content-Length", "0"); self.end_headers()
                with open(logf, "a") as f: f.write("REJECTED %s\n" % u_)
                return
            account = u_
        access = []
        for s in q.get("scope", []):
            typ, _, rest = s.partition(":")
            name, _, actions = rest.rpartition(":")
            if account:
                access.append({"type": typ, "name": name, "actions": actions.split(",")})
        with open(logf, "a") as f: f.write("%s %s\n" % (account or "anonymous", " ".join(q.get("scope", [])) or "-"))
        now = int(time.time())
        claims = {"iss": "test-issuer", "sub": account or "", "aud": q.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": b64u(os.urandom(12)), "access": access}
        hdr = {"typ": "JWT", "alg": "RS256", "x5c": [der_b64]}
        signing = b64u(json.dumps(hdr).encode()) + "." + b64u(json.dumps(claims).encode())
        sig = key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        body = json.dumps({"access_token": signing + "." + b64u(sig), "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
    local pid=$!
    at_exit "kill $pid"
    wait_port "$TOKEN_PORT"
}

# registry_cli_setup: for the CLI tests (52, 53; docker-registry checked by the caller):
# the daemon's fixtures, CONTAINER_HOST/CONTAINER_CERTS_DIR, a plain registry at $H
# and the daemon started; a missing facility skips the file, a failed start ends it.
# The whole test runs in a network namespace (netns_reexec): the daemon makes its bridge
# there and reaches the registries on the same loopback.
registry_cli_setup() {
    netns_reexec registry || need "cannot create a network namespace (\`ip netns add\` needs root)"
    [ -x "$BIN/container" ] || need "container not built (run make)"
    [ -x "$REG_TOOL" ] || need "ctr-registry not built (run make)"
    # Registries stop first: the daemon's cleanup waits for every child.
    at_exit 'kill ${REG_PID_plain:-} ${REG_PID_tls:-}'
    daemon_fixtures
    export CONTAINER_HOST=unix://$SOCK
    export CONTAINER_CERTS_DIR=$T_TMP/certs.d
    mkdir -p "$CONTAINER_CERTS_DIR" "$DOCKER_CONFIG"
    start_registry plain || { not_ok "start docker-registry"; plan_end; exit; }
    H=127.0.0.1:$REG_PORT_plain
    daemon_start || { not_ok "daemon starts"; plan_end; exit; }
}

# c ARGS...: the CLI with a deadline; sets out (stdout+stderr) and rc.
c() {
    out=$(timeout 300 "$BIN/container" "$@" 2>&1)
    rc=$?
}
