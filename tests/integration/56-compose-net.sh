#!/usr/bin/env bash
# Compose's networking (issue 13, docs/network.md): what docker-compose 1.29 and the SDKs
# read and do on networks, as Docker Engine answers them. Network names Docker accepts
# (spaces), refused ones (blank, predefined), Options only as given at create, the
# default network as `bridge` in NetworkSettings.Networks, the short id in a
# user network's Aliases, disconnect/connect of a created container that publishes
# ports (aliases of the request kept), then `docker-compose up -d` of two services:
# no reconnect, names and short ids resolve (also through a container's second network),
# a second `up` keeps everything.
# VMs: busybox, 256 MiB, two at once (the compose services).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
plan_start
daemon_fixtures
for tool in docker python3; do
    command -v $tool >/dev/null || need "$tool missing (apt-get install docker.io python3-docker)"
done
python3 -c 'import docker' 2>/dev/null || need "python3-docker missing (apt-get install python3-docker)"
daemon_start || need "the daemon did not start"

# ---- names: what Docker accepts and refuses ----
body=$(api POST /networks/create '{"Name":"my net","Labels":{"l":"v"}}')
check_eq "a name with a space is accepted (201)" "201" "$(code)"
NET_ID=$(jq -r .Id <<<"$body")
nw=$(api GET '/networks/my%20net')
check_eq "  found by that name" "200 my net $NET_ID" "$(code) $(jq -r '[.Name, .Id] | join(" ")' <<<"$nw")"
check_eq "  Options: none given, none shown" "{}" "$(jq -c .Options <<<"$nw")"
dk network ls --format '{{.Name}}' --filter name=my
check_eq "docker network ls shows it" "0 my net" "$rc $out"
dk network create 'a/b:c é'
check_eq "docker network create 'a/b:c é'" "0" "$rc"
body=$(api POST /networks/create '{"Name":"  "}')
check_eq "a blank name: 400, docker's words" "400 invalid network name: name is empty" "$(code) $(jq -r .message <<<"$body")"
body=$(api POST /networks/create '{"Name":""}')
check_eq "an empty name: 400" "400" "$(code)"
body=$(api POST /networks/create '{"Name":"a\u0001b"}')
check_eq "a control character: 400" "400" "$(code)"
for n in bridge default host none; do
    body=$(api POST /networks/create "{\"Name\":\"$n\"}")
    check_eq "predefined \`$n\`: 403, docker's words" "403 operation is not permitted on predefined $n network" \
        "$(code) $(jq -r .message <<<"$body")"
done
body=$(api POST /networks/create '{"Name":"my net"}')
check_eq "a taken name: 409" "409" "$(code)"

# ---- Options: only what was given ----
body=$(api POST /networks/create '{"Name":"opts","Options":{"com.example.x":"1","com.docker.network.driver.mtu":"1500"}}')
check_eq "create with Options" "201" "$(code)"
check_eq "  inspect shows exactly them" '{"com.docker.network.driver.mtu":"1500","com.example.x":"1"}' \
    "$(api GET /networks/opts | jq -cS .Options)"
check_eq "  and so does the list" '{"com.docker.network.driver.mtu":"1500","com.example.x":"1"}' \
    "$(api GET '/networks?filters=%7B%22name%22%3A%5B%22opts%22%5D%7D' | jq -cS '.[0].Options')"
body=$(api POST /networks/create '{"Name":"badopt","Options":{"x":1}}')
check_eq "a non-string option: 400" "400" "$(code)"
check_eq "the default network shows docker's bridge options (our bridge)" "ctr0 true 1500" \
    "$(api GET /networks/bridge | jq -r '.Options | [.["com.docker.network.bridge.name"], .["com.docker.network.bridge.default_bridge"], .["com.docker.network.driver.mtu"]] | join(" ")')"

# ---- inspect: `bridge`, NetworkMode, Aliases with the short id ----
id=$(api POST '/containers/create?name=d1' '{"Image":"busybox"}' | jq -r .Id)
check_eq "no --network: Networks has \`bridge\`, NetworkMode \`default\`" "bridge default" \
    "$(state d1 '[(.NetworkSettings.Networks | keys | join(",")), .HostConfig.NetworkMode] | join(" ")')"
check_eq "  the top-level address is the bridge's" "$(state d1 .NetworkSettings.Networks.bridge.IPAddress)" \
    "$(state d1 .NetworkSettings.IPAddress)"
check_eq "  no aliases on the default network (as docker)" "null" "$(state d1 .NetworkSettings.Networks.bridge.Aliases)"
check_eq "docker ps -a lists it on bridge" "bridge" "$(docker ps -a --filter name=d1 --format '{{.Networks}}')"
api POST '/containers/create?name=d2' '{"Image":"busybox","HostConfig":{"NetworkMode":"bridge"}}' >/dev/null
check_eq "--network bridge: NetworkMode bridge, key bridge" "bridge bridge" \
    "$(state d2 '[(.NetworkSettings.Networks | keys | join(",")), .HostConfig.NetworkMode] | join(" ")')"
api DELETE /containers/d2 >/dev/null

# d3: on "my net", publishing a port, alias web: compose's shape
id=$(api POST '/containers/create?name=d3' '{"Image":"busybox","Hostname":"h3","HostConfig":{"NetworkMode":"my net","PortBindings":{"80/tcp":[{"HostPort":""}]}},"NetworkingConfig":{"EndpointsConfig":{"my net":{"Aliases":["web"]}}}}' | jq -r .Id)
check_eq "create on \`my net\` with a port" "201" "$(code)"
SHORT=${id:0:12}
check_eq "Aliases: the request's, the short id, the hostname" "web $SHORT h3" \
    "$(state d3 '.NetworkSettings.Networks["my net"].Aliases | join(" ")')"
check_eq "DNSNames" "d3 web $SHORT h3" "$(state d3 '.NetworkSettings.Networks["my net"].DNSNames | join(" ")')"
check_eq "the network lists it" "d3" "$(api GET '/networks/my%20net' | jq -r '[.Containers[].Name] | join(" ")')"

# ---- disconnect / connect a created container that publishes ports (python3-docker) ----
out=$(timeout 60 python3 - "$SOCK" "$SHORT" <<'PY' 2>&1
import docker, sys
c = docker.DockerClient(base_url="unix://" + sys.argv[1], version="1.41")
n = c.networks.get("my net")
n.disconnect("d3")
nets = c.api.inspect_container("d3")["NetworkSettings"]["Networks"]
print("after-disconnect", sorted(nets))
n.connect("d3", aliases=["web2", sys.argv[2]])
a = c.api.inspect_container("d3")["NetworkSettings"]["Networks"]["my net"]["Aliases"]
print("after-connect", " ".join(a))
PY
)
check_contains "disconnect of a created container with a port works" "$out" "after-disconnect []"
check_contains "connect keeps the request's aliases (short id not doubled)" "$out" "after-connect web2 $SHORT h3"
body=$(api POST '/networks/my%20net/connect' '{"Container":"d3"}')
check_eq "connecting twice: 409" "409" "$(code)"
check_eq "the bundle publishes the port again, to its address" \
    "$(state d3 '.NetworkSettings.Networks["my net"].IPAddress')" \
    "$(jq -r '.ports[0].container_ip' "$DATA/containers/$id/config.json")"
api DELETE /containers/d3 >/dev/null
api DELETE /containers/d1 >/dev/null
api DELETE /networks/opts >/dev/null
docker network rm 'a/b:c é' >/dev/null 2>&1

# ---- docker-compose up -d: no reconnect, names, short ids, up-to-date ----
if ! command -v docker-compose >/dev/null; then
    skip "docker-compose missing (apt-get install --no-install-recommends docker-compose)"
else
    P=$T_TMP/proj
    mkdir -p "$P"
    # client's first network is `back` (its resolv.conf points there); web is on `default`
    # only: client finds web through its second network
    cat >"$P/docker-compose.yml" <<'EOF'
version: "2.4"
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo hello-compose >/www/index.html && exec httpd -f -p 80 -h /www"]
    mem_limit: 256m
    ports: ["80"]
  client:
    image: busybox
    command: ["sleep", "3600"]
    mem_limit: 256m
    networks:
      back:
        priority: 10
      default:
        priority: 1
networks:
  back: {}
EOF
    cd "$P" || exit 1
    LOG_AT=$(wc -l <"$T_TMP/daemon.log")
    out=$(timeout 600 docker-compose -p cnet up -d 2>&1)
    rc=$?
    check_eq "docker-compose up -d" "0" "$rc"
    [ "$rc" = 0 ] || diag "$out"
    nw=$(api GET /networks/cnet_default)
    check_eq "  the network cnet_default, Options {}" "200 {}" "$(code) $(jq -c .Options <<<"$nw")"
    check_eq "  no container was disconnected (and so reconnected)" "" \
        "$(tail -n +$((LOG_AT + 1)) "$T_TMP/daemon.log" | grep -E 'disconnected from network')"
    check_eq "  client is on back first, and on two networks" "cnet_back 2" \
        "$(docker inspect -f '{{.HostConfig.NetworkMode}} {{len .NetworkSettings.Networks}}' cnet_client_1 2>&1)"
    WEB_ID=$(docker inspect -f '{{.Id}}' cnet_web_1 2>/dev/null)
    check_contains "  web's aliases: service and short id" \
        "$(docker inspect -f '{{json .NetworkSettings.Networks.cnet_default.Aliases}}' cnet_web_1 2>&1)" "\"${WEB_ID:0:12}\""
    check_contains "  web's aliases include the service name" \
        "$(docker inspect -f '{{json .NetworkSettings.Networks.cnet_default.Aliases}}' cnet_web_1 2>&1)" '"web"'
    wait_for 120 docker exec cnet_web_1 pidof httpd
    dk exec cnet_client_1 sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 10 web 80 | tail -1'
    check_eq "client reaches web by its service name (through its second network)" "0 hello-compose" "$rc $out"
    BACK_GW=$(api GET /networks/cnet_back | jq -r '.IPAM.Config[0].Gateway')
    dk exec cnet_client_1 cat /etc/resolv.conf
    check_contains "  client asks back's DNS server" "$out" "nameserver $BACK_GW"
    dk exec cnet_client_1 ping -c 1 -W 10 "${WEB_ID:0:12}"
    check_eq "client pings web by its short id" "0" "$rc"
    dk exec cnet_client_1 ping -c 1 -W 10 cnet_web_1
    check_eq "client pings web by its container name" "0" "$rc"
    PORT=$(docker port cnet_web_1 80 2>/dev/null | head -1 | sed 's/.*://')
    check_eq "web's port is published" "hello-compose" \
        "$(in_ns curl -s -m 10 "http://127.0.0.1:$PORT/" 2>&1)"
    out=$(timeout 300 docker-compose -p cnet up -d 2>&1)
    rc=$?
    check_eq "a second up -d succeeds" "0" "$rc"
    check_contains "  and keeps the containers (up-to-date)" "$out" "cnet_web_1 is up-to-date"
    [[ "$out" == *"needs to be recreated"* ]] && diag "$out"
    check_eq "  the network was not found changed" "" "$(grep -o 'needs to be recreated' <<<"$out")"
    out=$(timeout 300 docker-compose -p cnet down -t 1 2>&1)
    rc=$?
    check_eq "docker-compose down" "0" "$rc"
    [ "$rc" = 0 ] || diag "$out"
    check_eq "  the containers and the networks are gone" "404 404 0" \
        "$(api GET /networks/cnet_default >/dev/null; code) $(api GET /networks/cnet_back >/dev/null; code) $(docker ps -aq | wc -l)"
    cd / || exit 1
fi

api DELETE '/networks/my%20net' >/dev/null
check_eq "the network with a space is removed" "204" "$(code)"
plan_end
