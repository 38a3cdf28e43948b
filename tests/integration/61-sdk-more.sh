#!/usr/bin/env bash
# More of Docker Engine's behaviour (issue 13): a container waiting out its restart
# back-off (State.Restarting) cannot be removed without force (409) and counts as running
# in /info; volume prune removes only anonymous volumes unless `all=true` (API >= 1.42;
# older API versions: every unused one); HostConfig.Links: the linked container must
# exist, its alias and name resolve inside the container, inspect shows
# "/name:/container/alias", and docker-compose's `links:` and `run` while the service is
# up work. Driven with curl, the docker CLI, python3-docker and docker-compose. Two VMs at a time at most.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
need_docker_cli
daemon_fixtures
daemon_start || need "the daemon did not start"

# ---- 1, 2. a restarting container: rm refused (409), counted running in /info ----
check "docker run --restart always (exits at once)" docker run -d --restart always --name rs busybox true
rs_restarting() { [ "$(state rs .State.Status)" = restarting ]; }
# /info read while rs is restarting (its state seen so before and after)
info_while_restarting() {
    rs_restarting || return 1
    INFO=$(api GET /info)
    rs_restarting
}
wait_for 180 info_while_restarting
check_eq "/info: a restarting container counts as running" "1 1 0 0" \
    "$(jq -r '"\(.Containers) \(.ContainersRunning) \(.ContainersPaused) \(.ContainersStopped)"' <<<"$INFO")"
# DELETE without force while it is restarting: docker's 409
rm_restarting() {
    rs_restarting || return 1
    RM_BODY=$(api DELETE /containers/rs)
    [ "$(code)" = 409 ] && [[ "$(jq -r .message <<<"$RM_BODY")" == *restarting* ]]
}
wait_for 120 rm_restarting
check_eq "rm of a restarting container: 409, docker's words" \
    "409 cannot remove container \"/rs\": container is restarting: stop the container before removing or force remove" \
    "$(code) $(jq -r .message <<<"$RM_BODY")"
check_eq "  it is still there" 200 "$(api GET /containers/rs/json >/dev/null; code)"
check "docker rm -f of a restarting container" docker rm -f rs
check_eq "  then it is gone" 404 "$(api GET /containers/rs/json >/dev/null; code)"

# ---- 3. volume prune: anonymous volumes only, unless all=true (API >= 1.42) ----
prune() { # [VERSION-PREFIX] [FILTERS-JSON]: the names deleted, sorted
    local q=""
    [ -n "${2:-}" ] && q="?filters=$(jq -rn --arg f "$2" '$f|@uri')"
    PRUNE=$(api POST "${1:-}/volumes/prune$q")
    jq -r '.VolumesDeleted // [] | sort | join(" ")' <<<"$PRUNE"
}
mkvols() {
    ANON=$(api POST /volumes/create '{}' | jq -r .Name)
    api POST /volumes/create '{"Name":"named1"}' >/dev/null
}
mkvols
check_eq "the anonymous volume has docker's label" "true" \
    "$(api GET "/volumes/$ANON" | jq -r '.Labels | has("com.docker.volume.anonymous")')"
check_eq "prune (API 1.43): only the anonymous volume" "$ANON" "$(prune)"
check_eq "  the named one is kept" 200 "$(api GET /volumes/named1 >/dev/null; code)"
check_eq "prune all=true: the named one too" "named1" "$(prune "" '{"all":["true"]}')"
mkvols
check_eq "prune all=false: anonymous only" "$ANON" "$(prune "" '{"all":["false"]}')"
check_eq "prune on API 1.41: every unused volume" "named1" "$(prune /v1.41)"
prune "" '{"all":["maybe"]}' >/dev/null
check_eq "all=maybe: 400, Go's ParseBool words" \
    "400 invalid filter 'all': strconv.ParseBool: parsing \"maybe\": invalid syntax" \
    "$(code) $(jq -r .message <<<"$PRUNE")"
dk volume prune -f -a
check_eq "docker volume prune -a" 0 "$rc"

# ---- 4. HostConfig.Links ----
dk create --link nosuch:x busybox true
check_contains "a link to no container is refused (docker's words)" "$out" \
    "could not get container for nosuch: No such container: nosuch"
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"Links":["a:b:c"]}}')
check_eq "a malformed link: 400" "400 bad format for links: a:b:c" "$(code) $(jq -r .message <<<"$body")"
check "docker run -d --name web" docker run -d --name web busybox sleep 600
WEB_IP=$(state web .NetworkSettings.IPAddress)
WEB_ID=$(state web .Id)
dk create --name cl --link web:alias --link web busybox true
check_eq "docker create --link web:alias --link web" 0 "$rc"
check_eq "  inspect: HostConfig.Links as docker" '["/web:/cl/alias","/web:/cl/web"]' \
    "$(state cl '.HostConfig.Links | tostring')"
check "docker rm cl" docker rm cl
dk run --rm --link web:alias busybox sh -c 'grep -w alias /etc/hosts && ping -c 1 -W 10 alias >/dev/null && echo pinged'
check_eq "run --link web:alias: /etc/hosts maps the alias, hostname and name to web; ping alias" \
    "0 $WEB_IP alias ${WEB_ID:0:12} web pinged" "$rc $(echo $out)"
[ "$rc" = 0 ] || diag "$out"
if /usr/bin/python3 -c 'import docker' 2>/dev/null; then
    out=$(/usr/bin/python3 - 2>&1 <<'PY'
import docker
c = docker.from_env()
x = c.containers.create("busybox", "true", name="pyl", links={"web": "db"})
x.reload()
print(x.attrs["HostConfig"]["Links"])
x.remove()
PY
)
    check_eq "python: create with links={'web': 'db'}, inspect's HostConfig.Links" "['/web:/pyl/db']" "$out"
else
    skip "python3-docker missing (apt-get install python3-docker)"
fi
check "docker rm -f web" docker rm -f web

# ---- docker-compose: links, and run while the service is up ----
if ! command -v docker-compose >/dev/null; then
    skip "docker-compose missing (apt-get install --no-install-recommends docker-compose)"
else
    P=$T_TMP/proj
    mkdir -p "$P"
    cat >"$P/docker-compose.yml" <<'EOF'
version: "2.4"
services:
  web:
    image: busybox
    command: ["sleep", "3600"]
    mem_limit: 256m
  client:
    image: busybox
    command: ["sleep", "3600"]
    mem_limit: 256m
    links: ["web:db"]
EOF
    cd "$P" || exit 1
    out=$(timeout 600 docker-compose -p clink up -d 2>&1)
    rc=$?
    check_eq "docker-compose up -d (client links web:db)" "0" "$rc"
    [ "$rc" = 0 ] || diag "$out"
    dk exec clink_client_1 ping -c 1 -W 10 db
    check_eq "  client pings web by its link alias" "0" "$rc"
    out=$(timeout 300 docker-compose -p clink stop -t 1 client 2>&1)
    out=$(timeout 600 docker-compose -p clink run --rm web sh -c 'ping -c 1 -W 10 web_1 >/dev/null && echo linked' 2>&1)
    rc=$?
    check_eq "docker-compose run web while web is up (links to itself)" "0 linked" "$rc $(tail -1 <<<"$out" | tr -d '\r')"
    [ "$rc" = 0 ] || diag "$out"
    out=$(timeout 300 docker-compose -p clink down -t 1 2>&1)
    check_eq "docker-compose down" "0" "$?"
    cd "$TOP" || exit 1
fi
plan_end
