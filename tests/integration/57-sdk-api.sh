#!/usr/bin/env bash
# SDK-level behaviour as Docker Engine has it (issue 13): swarm routes on a node that is
# no swarm manager, unnamed volumes, image inspect's ContainerConfig for old API
# versions, create bodies decoded as Go does (names in any case, unknown fields
# ignored), a bare NAME in Env, a failed image load reported in the stream, exec
# framing chosen by the start request, and LogConfig's drivers. Driven with curl, the docker CLI and
# python3-docker; one container (a VM) in all.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
daemon_fixtures
daemon_start || need "the daemon did not start"
PY=/usr/bin/python3
NOT_MANAGER='This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.'

# ---- 1. swarm routes: 503 with Docker's message, not 404 ----
for route in "GET /swarm" "GET /v1.43/nodes" "GET /nodes/abc" "GET /services?status=1" \
    "POST /services/create" "GET /tasks" "GET /secrets" "POST /configs/create" "POST /swarm/update" \
    "GET /swarm/unlockkey"; do
    body=$(api ${route% *} "${route#* }")
    check_eq "$route: 503 not a swarm manager" "503 $NOT_MANAGER" "$(code) $(jq -r .message <<<"$body")"
done
body=$(api POST /swarm/leave)
check_eq "POST /swarm/leave: 503 not part of a swarm" "503 This node is not part of a swarm" "$(code) $(jq -r .message <<<"$body")"
if command -v docker >/dev/null; then
    err=$(docker node ls 2>&1)
    check_contains "docker node ls says the node is no swarm manager" "$err" "This node is not a swarm manager"
else
    skip "docker CLI missing"
fi

# ---- 2. a volume without a name: 64 hex digits, anonymous ----
body=$(api POST /volumes/create '{}')
vname=$(jq -r .Name <<<"$body")
[[ "$(code) $vname" =~ ^201\ [0-9a-f]{64}$ ]] && ok "volumes/create without a name: 201, a 64-hex name" ||
    not_ok "volumes/create without a name: $(code) $body"
check_eq "  labelled anonymous, as Docker" '""' "$(jq -c '.Labels["com.docker.volume.anonymous"]' <<<"$body")"
check_eq "  and it exists" "200" "$(api GET "/volumes/$vname" >/dev/null; code)"
vname2=$($PY -c 'import docker; print(docker.DockerClient(base_url="'"$DOCKER_HOST"'").volumes.create().name)' 2>&1)
[[ "$vname2" =~ ^[0-9a-f]{64}$ && "$vname2" != "$vname" ]] && ok "python3-docker volumes.create() gets a new generated name" ||
    not_ok "python3-docker volumes.create(): $vname2"
api DELETE "/volumes/$vname" >/dev/null
api DELETE "/volumes/$vname2" >/dev/null

# ---- 3. image inspect: ContainerConfig below API 1.45 ----
img=$(api GET /v1.43/images/busybox/json)
check_eq "image inspect (1.43) has an empty ContainerConfig, as Docker for a non-classic build" \
    '"" null null {}' "$(jq -c '.ContainerConfig | .Image, .Cmd, .Env, (.Labels // {})' <<<"$img" | tr '\n' ' ' | sed 's/ $//')"
cc=$($PY -c 'import docker; c = docker.APIClient(base_url="'"$DOCKER_HOST"'", version="1.41"); print(sorted(c.inspect_image("busybox")["ContainerConfig"].keys())[:3])' 2>&1)
check_eq "python3-docker (API 1.41) reads ContainerConfig" "['AttachStderr', 'AttachStdin', 'AttachStdout']" "$cc"
if command -v docker-compose >/dev/null; then
    # compose 1.29 reads the image's ContainerConfig when it recreates a container
    mkdir -p "$T_TMP/proj"
    printf 'services:\n  s:\n    image: busybox\n    command: ["sleep", "600"]\n    network_mode: none\n    stop_signal: SIGKILL\n    environment:\n      V: "%s"\n' 1 >"$T_TMP/proj/docker-compose.yml"
    (cd "$T_TMP/proj" && docker-compose -p p57 up -d) >"$T_TMP/compose1.log" 2>&1
    check_eq "docker-compose 1.29 up -d" "0" "$?"
    sed -i 's/V: "1"/V: "2"/' "$T_TMP/proj/docker-compose.yml"
    (cd "$T_TMP/proj" && docker-compose -p p57 up -d) >"$T_TMP/compose2.log" 2>&1
    rc=$?
    check_eq "docker-compose 1.29 recreates after a change (reads ContainerConfig)" "0 V=2" \
        "$rc $(api GET /containers/p57_s_1/json | jq -r '.Config.Env[] | select(startswith("V="))')"
    [ "$rc" = 0 ] || diag "$(tail -5 "$T_TMP/compose2.log")"
    (cd "$T_TMP/proj" && docker-compose -p p57 down -t 0) >/dev/null 2>&1
    check_eq "  and takes it down" "0" "$(api GET '/containers/json?all=1' | jq length)"
else
    skip "docker-compose missing"
fi

# ---- 4. create: field names in any case, unknown fields ignored, mistypes refused ----
id=$(api POST /containers/create '{"image":"busybox","cmd":["echo","hi"],"LABELS":{"a":"b"},"NoSuchField":1,"hostconfig":{"memory":268435456,"Bogus":true}}' | jq -r .Id)
check_eq "lowercase and unknown fields: 201" "201" "$(code)"
insp=$(api GET "/containers/$id/json")
check_eq "  image, cmd, labels and hostconfig.memory read case-insensitively" \
    '["echo","hi"] "b" 268435456 null' \
    "$(jq -c '.Config.Cmd, .Config.Labels.a, .HostConfig.Memory, .Config.NoSuchField' <<<"$insp" | tr '\n' ' ' | sed 's/ $//')"
api DELETE "/containers/$id" >/dev/null
body=$(api POST /containers/create '{"image":"busybox","tty":"yes"}')
check_eq "a mistyped known field in lowercase: 400 with today's message" \
    '400 invalid `Tty`: true or false is expected, not a string' "$(code) $(jq -r .message <<<"$body")"
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"privileged":true}}')
check_eq "an unsupported field in lowercase is still refused" \
    '400 `HostConfig.Privileged` is not supported by this daemon yet' "$(code) $(jq -r .message <<<"$body")"

# ---- 6. images/load of a bad body: 200, the error in the JSON stream (quiet or not) ----
for q in "" "?quiet=1" "?quiet=0"; do
    out=$(curl -s -w '\n%{http_code}' --unix-socket "$SOCK" -X POST -H 'Content-Type: application/x-tar' \
        --data-binary 'not an archive' "http://d/images/load$q")
    check_eq "images/load$q of a bad body: 200 with errorDetail and error" "200 true" \
        "$(tail -1 <<<"$out") $(head -1 <<<"$out" | jq '(.error | length > 0) and .error == .errorDetail.message and (keys == ["error","errorDetail"])')"
done
if command -v docker >/dev/null; then
    echo 'not an archive' >"$T_TMP/bad.tar"
    err=$(docker load -i "$T_TMP/bad.tar" 2>&1)
    check_eq "docker load of a bad archive fails (exit 1)" "1" "$?"
    check_eq "  with the daemon's message" "$(head -1 <<<"$out" | jq -r .error)" "$err"
fi

# ---- 5. a bare NAME in Env: kept in Config.Env, unset for the process ----
id=$(api POST '/containers/create?name=env1' '{"Image":"busybox","Env":["HOSTNAME","BAR=1"],"Cmd":["sh","-c","env; exec sleep 600"]}' | jq -r .Id)
check_eq "create with a bare NAME: 201" "201" "$(code)"
check_eq "inspect shows the bare NAME in Config.Env, as Docker" '["HOSTNAME","BAR=1"]' \
    "$(api GET /containers/env1/json | jq -c '.Config.Env[0:2]')"
api POST /containers/env1/start >/dev/null
check_eq "env1 starts" "204" "$(code)"
wait_for 60 sh -c "curl -s --unix-socket '$SOCK' 'http://d/containers/env1/logs?stdout=1' | grep -q BAR=1"
logs=$(curl -s --unix-socket "$SOCK" 'http://d/containers/env1/logs?stdout=1' | tr -d '\000-\010')
check_contains "the process has BAR=1" "$logs" "BAR=1"
[[ "$logs" != *HOSTNAME=* ]] && ok "  and no HOSTNAME (the bare NAME unset it, as Docker)" || not_ok "HOSTNAME in the env: $logs"

# ---- 7. exec framing follows the start request's Tty (moby postContainerExecStart) ----
# exec_framed ID TTY: start the exec with {"Tty":TTY}; prints mux:PAYLOAD when the body
# is Docker's 8-byte frames, else raw:BODY.
exec_framed() {
    timeout 60 $PY - "$SOCK" "$1" "$2" <<'EOF'
import socket, struct, sys
a = socket.socket(socket.AF_UNIX); a.connect(sys.argv[1])
b = '{"Detach":false,"Tty":%s}' % sys.argv[3]
a.sendall(("POST /exec/%s/start HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
           "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: %d\r\n\r\n%s" % (sys.argv[2], len(b), b)).encode())
data = b""
while True:
    x = a.recv(65536)
    if not x: break
    data += x
body = data.partition(b"\r\n\r\n")[2]
if len(body) >= 8 and body[0] in (1, 2) and body[1:4] == b"\0\0\0":
    out = b""
    while len(body) >= 8:
        n = struct.unpack(">I", body[4:8])[0]
        out += body[8:8 + n]
        body = body[8 + n:]
    print("mux:" + out.decode(errors="replace").strip())
else:
    print("raw:" + body.decode(errors="replace").strip())
EOF
}
eid=$(api POST /containers/env1/exec '{"Cmd":["echo","tty-exec"],"Tty":true,"AttachStdout":true,"AttachStderr":true}' | jq -r .Id)
check_eq "an exec created with Tty, started without: multiplexed, as Docker" "mux:tty-exec" "$(exec_framed "$eid" false)"
eid=$(api POST /containers/env1/exec '{"Cmd":["echo","plain-exec"],"AttachStdout":true,"AttachStderr":true}' | jq -r .Id)
check_eq "an exec created without Tty, started with it: raw" "raw:plain-exec" "$(exec_framed "$eid" true)"
eid=$(api POST /containers/env1/exec '{"cmd":["echo","lower-exec"],"attachstdout":true,"Bogus":1}' | jq -r .Id)
check_eq "exec create reads its fields in any case, ignores unknown ones" "mux:lower-exec" "$(exec_framed "$eid" false)"
out=$($PY -c 'import docker; c = docker.DockerClient(base_url="'"$DOCKER_HOST"'"); r = c.containers.get("env1").exec_run(["echo", "sdk-exec"]); print(r.exit_code, r.output.decode().strip())' 2>&1)
check_eq "python3-docker exec_run (no tty) gets its output" "0 sdk-exec" "$out"
out=$($PY -c 'import docker; c = docker.DockerClient(base_url="'"$DOCKER_HOST"'"); r = c.containers.get("env1").exec_run(["echo", "sdk-tty"], tty=True); print(r.exit_code, r.output.decode().strip())' 2>&1)
check_eq "python3-docker exec_run(tty=True) gets its output" "0 sdk-tty" "$out"

# ---- 8. LogConfig: known drivers; `none` honoured by logs ----
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"bogus"}}}')
check_eq "an unknown log driver: 400 with Docker's message" "400 logger: no log driver named 'bogus' is registered" "$(code) $(jq -r .message <<<"$body")"
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"syslog"}}}')
check_eq "a driver that sends the output elsewhere: 400 naming it" '400 `HostConfig.LogConfig.Type` `syslog` is not supported by this daemon: use `json-file`, `local` or `none`' "$(code) $(jq -r .message <<<"$body")"
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"json-file","Config":{"max-size":"1m","nope":"1"}}}}')
check_eq "an unknown json-file option: 400" "400 unknown log opt 'nope' for json-file log driver" "$(code) $(jq -r .message <<<"$body")"
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"json-file","Config":{"mode":"fast"}}}}')
check_eq "an unknown logging mode: 400" "400 logger: logging mode not supported: fast" "$(code) $(jq -r .message <<<"$body")"
api POST '/containers/create?name=nolog' '{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"none","Config":{}}}}' >/dev/null
check_eq "LogConfig none: 201" "201" "$(code)"
check_eq "  inspect shows it" "none" "$(state nolog .HostConfig.LogConfig.Type)"
body=$(api GET '/containers/nolog/logs?stdout=1')
check_eq "  logs answer 501 as Docker" "501 configured logging driver does not support reading" "$(code) $(jq -r .message <<<"$body")"
if command -v docker >/dev/null; then
    check_eq "  docker logs prints it" "Error response from daemon: configured logging driver does not support reading" "$(docker logs nolog 2>&1)"
fi
api DELETE /containers/nolog >/dev/null
check_eq "the default is json-file" "json-file" "$(state env1 .HostConfig.LogConfig.Type)"

api DELETE '/containers/env1?force=1' >/dev/null
check_eq "env1 removed" "204" "$(code)"
check_eq "the daemon's stderr holds no sanitizer report" "" \
    "$(grep -E 'Sanitizer|runtime error' "$T_TMP/daemon.err" | head -3)"
plan_end
