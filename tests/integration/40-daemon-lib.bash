# Helpers for the container-apiserver integration tests (sourced, not run):
# fixtures (kernel, initramfs, busybox image in a temp data root), a daemon on a
# temp socket, curl and docker against it, and a cleanup that stops every VM.
# The daemon runs in a network namespace of the test (DAEMON_NS): it makes its bridge and
# nft table there; its socket is a file, so curl, docker and the CLI reach it from outside.
# CTR_DAEMON runs another build of the daemon (e.g. build-asan/bin/container-apiserver).
DAEMON=${CTR_DAEMON:-$BIN/container-apiserver}
RT=$BIN/container-runtime

daemon_fixtures() {
    [ -x "$DAEMON" ] || need "container-apiserver not built (run make)"
    [ -x "$RT" ] || need "container-runtime not built (run make)"
    [ -x "$BIN/vminitd" ] || need "vminitd not built (run make)"
    [ -x "$BIN/ctr-prepare" ] || need "ctr-prepare not built (run make)"
    command -v qemu-system-x86_64 >/dev/null || need "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
    command -v curl >/dev/null || need "curl missing (apt-get install curl)"
    command -v jq >/dev/null || need "jq missing (apt-get install jq)"
    KERNEL=${CTR_KERNEL:-}
    if [ -z "$KERNEL" ]; then
        KERNEL=$("$TOP/kernel/build.sh" 2>"$T_TMP/kernel.log" | tail -1) ||
            need "guest kernel build failed: $(tail -3 "$T_TMP/kernel.log")"
    fi
    [ -f "$KERNEL" ] || need "no guest kernel at \`$KERNEL\`"
    INITRD=$T_TMP/initramfs.cpio
    "$TOP/scripts/make-initramfs.sh" "$INITRD" "$BIN/vminitd" >/dev/null 2>"$T_TMP/initrd.log" ||
        need "initramfs build failed: $(tail -3 "$T_TMP/initrd.log")"
    "$TOP/scripts/make-busybox-image.sh" "$T_TMP/oci" >/dev/null 2>"$T_TMP/oci.log" ||
        need "busybox image build failed: $(tail -3 "$T_TMP/oci.log")"
    DATA=$T_TMP/data
    RUN=$T_TMP/run
    SOCK=$RUN/container.sock
    "$BIN/ctr-prepare" load --root "$DATA" --name busybox:latest "$T_TMP/oci" >/dev/null ||
        need "loading the busybox image into the store failed"
    export DOCKER_HOST=unix://$SOCK
    export DOCKER_CONFIG=$T_TMP/docker-config
    at_exit daemon_cleanup
    command -v ip >/dev/null || need "ip missing (apt-get install iproute2)"
    if [ -n "${CTR_TEST_NETNS:-}" ]; then
        DAEMON_NS=$CTR_TEST_NETNS # the whole test runs in one (netns_reexec)
    else
        netns_add DAEMON_NS daemon || need "cannot create a network namespace (\`ip netns add\` needs root)"
    fi
    # The DNS server forwards what it does not know to these resolvers: none, so a
    # test never sends a query out of its namespaces.
    : >"$T_TMP/resolv.conf"
    export CONTAINER_DNS_UPSTREAM=$T_TMP/resolv.conf
}

# in_ns CMD...: run CMD in the daemon's network namespace.
in_ns() { ip netns exec "$DAEMON_NS" "$@"; }

# daemon_start: tests/lib.sh

# Stop every VM of the data root (containers outlive the daemon), then the daemon.
daemon_cleanup() {
    local b
    for b in "$DATA"/containers/*/; do
        [ -S "$b/shim.sock" ] && timeout 30 "$RT" stop "$b" -t 0 >/dev/null 2>&1
    done
    [ -n "${DAEMON_PID:-}" ] && kill "$DAEMON_PID" 2>/dev/null
    wait 2>/dev/null
}

# api METHOD PATH [JSON]: body on stdout; `code` prints its HTTP status after.
api() {
    local out=$T_TMP/api.out
    local args=(-s -o "$out" -w '%{http_code}' --unix-socket "$SOCK" -X "$1")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' -d "$3")
    curl "${args[@]}" "http://d$2" >"$T_TMP/api.code"
    cat "$out"
}
code() { cat "$T_TMP/api.code"; }

# create_start NAME JSON-BODY: create and start a container; says why when either fails.
create_start() { # NAME JSON-BODY
    api POST "/containers/create?name=$1" "$2" >/dev/null
    [ "$(code)" = 201 ] || { diag "create $1: $(code) $(cat "$T_TMP/api.out")"; return 1; }
    api POST "/containers/$1/start" >/dev/null
    [ "$(code)" = 204 ] || { diag "start $1: $(code) $(cat "$T_TMP/api.out")"; return 1; }
}
# state NAME JQ-FILTER: a field of the container's inspect.
state() { api GET "/containers/$1/json" | jq -r "$2"; }

# exec_create NAME CMD...: an exec of CMD (stdout and stderr attached); sets EXEC_ID.
exec_create() {
    local name=$1
    shift
    EXEC_ID=$(curl -s --unix-socket "$SOCK" -X POST -H 'Content-Type: application/json' \
        -d "$(python3 -c 'import json, sys
print(json.dumps({"Cmd": sys.argv[1:], "AttachStdout": True, "AttachStderr": True}))' "$@")" \
        "http://d/containers/$name/exec" | jq -r .Id)
}
# exec_start ID: a hijacked exec start (as the docker CLI does it); prints its output
# (the stdout and stderr frames' payloads), after at most 60 s.
exec_start() {
    timeout 60 python3 - "$SOCK" "$1" <<'PY'
import socket, struct, sys
a = socket.socket(socket.AF_UNIX); a.connect(sys.argv[1])
a.sendall(("POST /exec/%s/start HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
           "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 2\r\n\r\n{}" % sys.argv[2]).encode())
data = b""
while True:
    x = a.recv(65536)
    if not x: break
    data += x
body = data.partition(b"\r\n\r\n")[2]
out = b""
while len(body) >= 8:
    n = struct.unpack(">I", body[4:8])[0]
    out += body[8:8 + n]
    body = body[8 + n:]
print(out.decode(errors="replace").strip())
PY
}


# The docker CLI against the test's daemon: need_docker_cli ends the file (a `need`) when
# it is missing; dk runs it with a timeout, output in $out and status in $rc.
need_docker_cli() {
    command -v docker >/dev/null ||
        need "docker CLI missing (apt-get install docker.io; only the client is used)"
}
dk() { out=$(timeout 300 docker "$@" 2>&1); rc=$?; }
