#!/usr/bin/env bash
# A container's writable layer (issue 13): `docker diff` (added, modified, deleted files:
# a whiteout for a file of the image, an opaque directory), `docker commit` of a stopped
# and of a running container with `changes` (CMD, ENV), author and comment in inspect and
# history, the committed image runs and sees the files (also through `container diff` and
# `container commit`); `docker import` from stdin and
# from an http URL (a python http.server in the daemon's namespace); an archive saved by
# image id loads as an untagged image that `image prune` removes; the errors (unknown
# container 404, a bad change instruction 400). Driven with curl, the docker CLI and
# python3-docker.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
need_docker_cli
daemon_fixtures
daemon_start || need "the daemon did not start"

# ---- 1. changes of a stopped container ----
dk run --name c1 busybox sh -c 'echo hi > /added; echo extra >> /etc/passwd; rm /etc/group;
    rm -rf /usr/sbin; mkdir /usr/sbin; echo n > /usr/sbin/new'
check_eq "docker run (writes, modifies, deletes)" 0 "$rc"
[ "$rc" = 0 ] || diag "$out"
dk diff c1
check_eq "docker diff: Docker's kinds and order (whiteout, opaque dir)" \
    "A /added|C /etc|D /etc/group|C /etc/passwd|C /usr|D /usr/sbin|A /usr/sbin/new" \
    "$(tr '\n' '|' <<<"$out" | sed 's/|$//')"
check_eq "GET /containers/c1/changes: JSON kinds" \
    '[{"Path":"/added","Kind":1},{"Path":"/etc","Kind":0},{"Path":"/etc/group","Kind":2}]' \
    "$(api GET /containers/c1/changes | jq -c '.[0:3]')"
api GET /containers/nosuch/changes >/dev/null
check_eq "changes of an unknown container: 404" 404 "$(code)"

# ---- 2. commit of the stopped container, author and comment ----
dk commit -a "Jane Doe <jane@example.com>" -m "my message" c1 snap:1
check_eq "docker commit -a -m c1 snap:1" 0 "$rc"
[ "$rc" = 0 ] || diag "$out"
SNAP_ID=$(tail -1 <<<"$out")
check_eq "  prints the new image id" "$(docker image inspect -f '{{.Id}}' snap:1 2>&1)" "$SNAP_ID"
check_eq "  inspect: Author and Comment" "Jane Doe <jane@example.com>|my message" \
    "$(docker image inspect -f '{{.Author}}|{{.Comment}}' snap:1 2>&1)"
check_eq "  history: the commit's comment on top" "my message" \
    "$(docker history --format '{{.Comment}}' snap:1 2>&1 | head -1)"
check_eq "  one more layer than busybox" \
    "$(($(docker image inspect -f '{{len .RootFS.Layers}}' busybox) + 1))" \
    "$(docker image inspect -f '{{len .RootFS.Layers}}' snap:1 2>&1)"
dk run --rm snap:1 sh -c 'cat /added; tail -1 /etc/passwd; test -e /etc/group || echo nogroup; ls /usr/sbin'
check_eq "docker run snap:1 sees the layer (added, modified, deleted, opaque)" \
    "hi|extra|nogroup|new" "$(tr '\n' '|' <<<"$out" | sed 's/|$//')"
docker save snap:1 -o "$T_TMP/snap.tar" 2>/dev/null
mkdir -p "$T_TMP/snap" && tar -C "$T_TMP/snap" -xf "$T_TMP/snap.tar"
LAYER=$(jq -r '.[0].Layers[-1]' "$T_TMP/snap/manifest.json")
check_eq "the layer holds OCI whiteouts: .wh.group and .wh..wh..opq" \
    "etc/.wh.group usr/sbin/.wh..wh..opq" \
    "$(tar -tf "$T_TMP/snap/$LAYER" | grep -E '\.wh\.' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "  and not the guest's /etc/hosts or the overlay's xattrs" "" \
    "$(tar -tf "$T_TMP/snap/$LAYER" | grep -E '^etc/(hosts|hostname|resolv.conf)$')"

# ---- 3. commit of a running container with changes ----
dk run -d --name c2 busybox sh -c 'echo live > /live; sleep 600'
check_eq "docker run -d c2 (writes /live, keeps running)" 0 "$rc"
live_in_diff() { docker diff c2 2>/dev/null | grep -qx 'A /live'; }
wait_for 120 live_in_diff
check "docker diff of a running container shows A /live" live_in_diff
dk commit -c 'CMD ["cat", "/live"]' -c 'ENV FOO=bar' c2 live:1
check_eq "docker commit -c CMD -c ENV of a running container" 0 "$rc"
[ "$rc" = 0 ] || diag "$out"
check_eq "  the container still runs" running "$(state c2 .State.Status)"
dk run --rm live:1
check_eq "docker run live:1: the committed CMD sees the file" live "$out"
dk run --rm live:1 sh -c 'echo $FOO'
check_eq "  ENV from changes" bar "$out"
check_eq "  inspect Config.Cmd" '["cat","/live"]' \
    "$(docker image inspect -f '{{json .Config.Cmd}}' live:1)"

# ---- the container CLI: diff and commit ----
ctrcli() { CONTAINER_HOST=unix://$SOCK "$BIN/container" "$@"; }
check_eq "container diff c1: the same list" \
    "A /added|C /etc|D /etc/group|C /etc/passwd|C /usr|D /usr/sbin|A /usr/sbin/new" \
    "$(ctrcli diff c1 2>&1 | tr '\n' '|' | sed 's/|$//')"
out=$(ctrcli commit -m "from the cli" -c 'CMD ["cat", "/added"]' c1 cli:1 2>&1)
check_contains "container commit -m -c c1 cli:1: prints the id" "$out" "sha256:"
check_eq "  docker run cli:1" hi "$(timeout 300 docker run --rm cli:1 2>&1)"

# ---- 4. errors ----
body=$(api POST '/commit?container=c1&changes=RUN%20echo%20hi')
check_eq "a RUN change: 400, Docker's words" "400 run is not a valid change command" \
    "$(code) $(jq -r .message <<<"$body")"
body=$(api POST '/commit?container=nosuch&repo=x')
check_eq "commit of an unknown container: 404" "404" "$(code)"
check_contains "  No such container" "$(jq -r .message <<<"$body")" "No such container: nosuch"
body=$(api POST '/commit?container=c1' '{"Env":["A=1"],"Cmd":["echo","body"]}')
check_eq "commit without a name: 201, an untagged image" 201 "$(code)"
UNTAGGED=$(jq -r .Id <<<"$body")
check_eq "  listed as dangling" "$UNTAGGED" \
    "$(api GET "/images/json?filters=$(jq -rn '{dangling:["true"]}|tojson|@uri')" | jq -r '.[].Id' | grep -x "$UNTAGGED")"
check_eq "  the body's Config wins" '["echo","body"] A=1' \
    "$(api GET "/images/$UNTAGGED/json" | jq -c -j '.Config.Cmd, " ", .Config.Env[0]')"

# ---- 5. python-docker: container.diff(), container.commit() ----
if /usr/bin/python3 -c 'import docker' 2>/dev/null; then
    pyout=$(/usr/bin/python3 - <<'EOF' 2>&1
import docker
c = docker.from_env(version="1.43").containers.get("c1")
d = c.diff()
print(sorted((x["Path"], x["Kind"]) for x in d)[0])
img = c.commit(repository="pyimg", tag="v1", message="from python", author="py")
print(img.attrs["Comment"], img.attrs["Author"], img.tags)
EOF
)
    check_eq "python-docker: diff() and commit()" \
        "('/added', 1)|from python py ['pyimg:v1']" "$(tr '\n' '|' <<<"$pyout" | sed 's/|$//')"
else
    check "python3-docker available" false
fi

# ---- 6. import from stdin and from a URL ----
R=$T_TMP/rootfs
mkdir -p "$R/bin"
cp /bin/busybox "$R/bin/busybox"
ln -s busybox "$R/bin/sh"
echo imported > "$R/hello"
tar -C "$R" -czf "$T_TMP/rootfs.tar.gz" .
out=$(timeout 300 docker import -c 'CMD ["/bin/busybox", "cat", "/hello"]' -m "by import" - imp:1 <"$T_TMP/rootfs.tar.gz" 2>&1)
check_eq "docker import - (gzip on stdin)" 0 "$?"
check_contains "  prints the image id" "$out" "sha256:"
dk run --rm imp:1
check_eq "  docker run of the imported image: its CMD" imported "$out"
check_eq "  the message is the comment" "by import" "$(docker image inspect -f '{{.Comment}}' imp:1)"
if /usr/bin/python3 -c 'import docker' 2>/dev/null; then
    pyout=$(/usr/bin/python3 - "$T_TMP/rootfs.tar.gz" <<'EOF' 2>&1
import docker, json, os, sys
api = docker.APIClient(base_url=os.environ["DOCKER_HOST"], version="1.43")
out = api.import_image_from_data(open(sys.argv[1], "rb").read(), repository="pyimp", tag="2",
                                 changes=["ENV X=1"])
print(json.loads(out.strip().splitlines()[-1])["status"][:7], api.inspect_image("pyimp:2")["Config"]["Env"])
EOF
)
    check_eq "python-docker: import_image_from_data" "sha256: ['X=1']" "$pyout"
else
    check "python3-docker available" false
fi
PORT=18764
# `ip netns exec` execs python: $! is the server's pid
ip netns exec "$DAEMON_NS" /usr/bin/python3 -m http.server --bind 127.0.0.1 \
    --directory "$T_TMP" "$PORT" </dev/null >/dev/null 2>&1 &
HTTPD=$!
wait_for 30 in_ns curl -sf -o /dev/null "http://127.0.0.1:$PORT/rootfs.tar.gz"
dk import "http://127.0.0.1:$PORT/rootfs.tar.gz" imp:url
check_eq "docker import URL" 0 "$rc"
[ "$rc" = 0 ] || diag "$out"
dk run --rm imp:url /bin/busybox cat /hello
check_eq "  docker run of the image imported from a URL" imported "$out"
body=$(api POST "/images/create?fromSrc=http://127.0.0.1:$PORT/nosuch.tar&repo=x")
check_contains "import of a missing URL: an error line in the stream" \
    "$(jq -r 'select(.error) | .error' <<<"$body")" "404"
# stopped here: daemon_cleanup's `wait` would wait for it
kill "$HTTPD" 2>/dev/null
wait "$HTTPD" 2>/dev/null

# ---- 7. save by id, load: an untagged image, removed by prune ----
IMP_ID=$(docker image inspect -f '{{.Id}}' imp:1)
dk save -o "$T_TMP/by-id.tar" "$IMP_ID"
check_eq "docker save IMAGE-ID" 0 "$rc"
check_eq "  manifest.json has no RepoTags" "[]" \
    "$(tar -xOf "$T_TMP/by-id.tar" manifest.json | jq -c '.[0].RepoTags // []')"
docker rmi imp:1 >/dev/null 2>&1
check_eq "docker rmi imp:1 (the image is gone)" 404 "$(api GET "/images/$IMP_ID/json" >/dev/null; code)"
dk load -i "$T_TMP/by-id.tar"
check_eq "docker load of it: Loaded image ID" "Loaded image ID: $IMP_ID" "$out"
check_eq "  listed as <none>:<none>" "<none>:<none>" \
    "$(docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}' --no-trunc | grep "$IMP_ID" | cut -d' ' -f1)"
dk image prune -f
check_eq "docker image prune" 0 "$rc"
check_eq "  removed the dangling image" 404 "$(api GET "/images/$IMP_ID/json" >/dev/null; code)"
check_eq "  and kept the tagged ones" 200 "$(api GET /images/snap:1/json >/dev/null; code)"

docker rm -f c1 c2 >/dev/null 2>&1
plan_end
