#!/usr/bin/env bash
# Networking end to end (issue 6, docs/network.md): the default network, names, NAT
# to an "outside" namespace, a host service through host.container.internal,
# published TCP/UDP ports and a range, user networks isolated from each other,
# --internal, --network none, docker's `run -p` and `network create/ls/rm`, a daemon
# SIGKILL + restart, nothing of ours left once everything is removed, and a daemon whose
# bridge cannot be made still running `--network none` containers. Every
# bridge, TAP, rule and packet stays in namespaces this test makes (80-network-lib).
# VMs: busybox, 256 MiB, at most two at once.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
source "$(dirname "$0")/80-network-lib.bash"
plan_start
daemon_fixtures
for tool in nft python3 ss docker; do
    command -v $tool >/dev/null || need "$tool missing (apt-get install nftables python3 iproute2 docker.io)"
done
[ -x "$BIN/ctr-udp-echo" ] || need "ctr-udp-echo not built (run make)"
net_topology
# a table of somebody else's: the daemon must never touch it
in_ns nft add table inet other && in_ns nft add chain inet other keep || need "nft cannot add a table"
daemon_start || need "the daemon did not start"

# ---- the default network at start ----
dk network ls --format '{{.Name}} {{.Driver}}'
check_eq "docker network ls: the default network, under docker's name" "bridge bridge" "$out"
nw=$(api GET /networks/bridge)
check_eq "\`bridge\` finds the default network" "200 bridge ctr0" \
    "$(code) $(jq -r '[.Name, .Options["com.docker.network.bridge.name"]] | join(" ")' <<<"$nw")"
SUBNET=$(jq -r '.IPAM.Config[0].Subnet' <<<"$nw")
GW=$(jq -r '.IPAM.Config[0].Gateway' <<<"$nw")
check_eq "default subnet 192.168.64.0/24, gateway .1" "192.168.64.0/24 192.168.64.1" "$SUBNET $GW"
check_eq "bridge ctr0 holds the gateway" "$GW/24" \
    "$(ip -n "$DAEMON_NS" -j addr show ctr0 | jq -r '.[0].addr_info[] | select(.family == "inet") | "\(.local)/\(.prefixlen)"')"
check_eq "IP forwarding is on" "1" "$(in_ns cat /proc/sys/net/ipv4/ip_forward)"
check_contains "nft: our table masquerades the subnet" "$(in_ns nft list table inet container 2>&1)" "masquerade"
check_contains "DNS server on the gateway (udp)" "$(in_ns ss -lnu)" "$GW:53"
check_contains "DNS server on the gateway (tcp)" "$(in_ns ss -lnt)" "$GW:53"
HOSTSVC_PID=$(ns_spawn "$DAEMON_NS" "$T_TMP/hostsvc.log" python3 "$T_TMP/whoami.py" "$GW" 8001 host-service)

# ---- bad input, no VM ----
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"NetworkMode":"nosuch"}}')
check_eq "unknown network: 404 naming it" "404 network nosuch not found" "$(code) $(jq -r .message <<<"$body")"
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"PortBindings":{"80/sctp":[{"HostPort":"1"}]}}}')
check_contains "sctp port: 400 naming the key" "$(code) $body" '400 {"message":"`HostConfig.PortBindings`'
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"NetworkMode":"none","PortBindings":{"80/tcp":[{"HostPort":"8080"}]}}}')
check_contains "ports with network none: 400" "$(code) $body" '400 {"message":"published ports need a network'
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"NetworkMode":"host"}}')
check_contains "network host: 400" "$(code) $body" '400 {"message":"`HostConfig.NetworkMode` `host` is not supported'
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"ExtraHosts":["bad name:1.2.3.4"]}}')
check_contains "malformed ExtraHosts: 400 naming it" "$(code) $body" '400 {"message":"`HostConfig.ExtraHosts[0]`'
body=$(api POST /networks/create '{"Name":"x6","EnableIPv6":true}')
check_eq "IPv6 network: 400" "400" "$(code)"
body=$(api DELETE /networks/default)
check_eq "the default network cannot be removed: 403" "403" "$(code)"
dk network create --subnet 10.200.0.0/25 overl
check_contains "a subnet over a host route is refused, naming the route" "$rc $out" "10.200.0.0/24"
check_contains "  (its device)" "$out" "vd"

# ---- web1: published ports (docker run -p), the default network ----
mkdir -p "$T_TMP/tools"
cp "$BIN/ctr-udp-echo" "$T_TMP/tools/"
cat >"$T_TMP/tools/web.sh" <<'EOF'
# web.sh NAME: httpd on 80 ("hello from NAME"), 81 and 82 ("port81", "port82"), UDP echo on 9999
for p in 81 82; do mkdir -p /w$p && echo port$p >/w$p/index.html && httpd -p $p -h /w$p; done
mkdir -p /www && echo "hello from $1" >/www/index.html
/t/ctr-udp-echo 9999 &
exec httpd -f -p 80 -h /www
EOF
dk run -d --name web1 -m 256m -v "$T_TMP/tools:/t:ro" -p 127.0.0.1:8080:80 -p 8083:80 \
    -p 127.0.0.1:8081-8082:81-82 -p 127.0.0.1:9999:9999/udp busybox sh /t/web.sh web1
check_eq "docker run -d -p ... starts web1" "0" "$rc"
[ "$rc" = 0 ] || diag "$out" "$(tail -5 "$T_TMP/daemon.log")"
WEB1_ID=$(docker inspect -f '{{.Id}}' web1 2>/dev/null)
wait_for 120 in_ns curl -sf http://127.0.0.1:8080/
check_eq "-p 127.0.0.1:8080:80: httpd answers curl on the host" "hello from web1" "$(in_ns curl -s -m 10 http://127.0.0.1:8080/)"
check_eq "a port range: 8081 -> 81" "port81" "$(in_ns curl -s -m 10 http://127.0.0.1:8081/)"
check_eq "a port range: 8082 -> 82" "port82" "$(in_ns curl -s -m 10 http://127.0.0.1:8082/)"
check_eq "-p 8083:80 answers on the host's other address" "hello from web1" "$(in_ns curl -s -m 10 http://$OUT_IP:8083/)"
check_eq "  and from the outside namespace" "hello from web1" "$(ip netns exec "$OUT_NS" curl -s -m 10 http://$OUT_IP:8083/)"
check_eq "a UDP port: the datagram comes back" "echo:ping1" "$(udp_echo 9999 ping1)"
WEB1_IP=$(docker inspect -f '{{.NetworkSettings.Networks.bridge.IPAddress}}' web1)
check_contains "inspect: an address of the default subnet" "$WEB1_IP" "192.168.64."
check_eq "inspect: top-level IPAddress, Gateway, MacAddress" "$WEB1_IP $GW 02:42:$(printf '%02x:%02x:%02x:%02x' ${WEB1_IP//./ })" \
    "$(docker inspect -f '{{.NetworkSettings.IPAddress}} {{.NetworkSettings.Gateway}} {{.NetworkSettings.MacAddress}}' web1)"
dk port web1 80/tcp
check_eq "docker port web1 80/tcp" "0.0.0.0:8083 127.0.0.1:8080" "$(sort <<<"$out" | xargs)"
check_contains "docker ps shows the ports" "$(docker ps --format '{{.Ports}}')" "127.0.0.1:8080->80/tcp"
check_eq "inspect: HostConfig.PortBindings as given" "8080" "$(docker inspect -f '{{(index (index .HostConfig.PortBindings "80/tcp") 0).HostPort}}' web1)"
TAP=ctap${WEB1_ID:0:10}0
check_eq "its TAP is on ctr0" "$TAP ctr0" "$(ip -n "$DAEMON_NS" -j link show "$TAP" | jq -r '.[0] | "\(.ifname) \(.master)"')"
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]}}}')
check_eq "a port in use is refused at create, naming it" "409 port 127.0.0.1:8080/tcp is already in use" "$(code) $(jq -r .message <<<"$body")"

# ---- c2: names both ways (TCP, ping), NAT to the outside, the host service ----
dk run -d --name c2 -m 256m busybox sh -c 'mkdir /www && echo "hello from c2" >/www/index.html && exec httpd -f -p 80 -h /www'
check_eq "c2 starts" "0" "$rc"
wait_for 60 docker exec c2 pidof httpd
dk exec c2 sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 10 web1 80 | tail -1'
check_eq "c2 reaches web1 by name (TCP)" "hello from web1" "$out"
dk exec web1 sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 10 c2 80 | tail -1'
check_eq "web1 reaches c2 by name (TCP)" "hello from c2" "$out"
dk exec c2 ping -c 1 -W 10 web1
check_contains "c2 pings web1 by name" "$rc $out" "0 PING web1 ($WEB1_IP)"
dk exec web1 ping -c 1 -W 10 c2
check_eq "web1 pings c2" "0" "$rc"
dk exec c2 ping -c 1 -W 10 "${WEB1_ID:0:12}"
check_eq "the short id resolves too" "0" "$rc"
dk exec c2 nc -w 10 $OUT_PEER 8000
check_eq "c2 reaches the outside namespace; the server sees the NAT'd address" "outside peer=$OUT_IP" "$out"
dk exec c2 nc -w 10 host.container.internal 8001
C2_IP=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' c2)
check_eq "c2 reaches a host service through host.container.internal" "host-service peer=$C2_IP" "$out"
dk exec c2 nslookup host.docker.internal
check_contains "the DNS server answers host.docker.internal with the gateway" "$out" "Address: $GW"
dk exec c2 nslookup outside.test
check_contains "other names go to the upstream resolver" "$out" "Address: $OUT_PEER"
dk exec c2 cat /etc/resolv.conf
check_eq "resolv.conf names the gateway" "nameserver $GW" "$out"
dk exec c2 cat /etc/hosts
check_contains "/etc/hosts: itself" "$out" "$C2_IP	"
check_contains "/etc/hosts: host.container.internal" "$out" "$GW	host.container.internal"
dk rm -f c2
check_eq "c2 removed" "0" "$rc"
ips=$(docker network inspect default -f '{{range .Containers}}{{.Name}} {{end}}')
check_eq "network inspect: web1 only" "web1 " "$ips"

# ---- daemon SIGKILL + restart: addresses, ports, rules and DNS come back ----
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
in_ns nft delete table inet container
daemon_start
check_eq "after restart web1 keeps its address" "$WEB1_IP" "$(docker inspect -f '{{.NetworkSettings.IPAddress}}' web1)"
check_eq "  and its published port answers" "hello from web1" "$(in_ns curl -s -m 10 http://127.0.0.1:8080/)"
check_eq "  UDP too" "echo:ping2" "$(udp_echo 9999 ping2)"
check_contains "the nft table is made again" "$(in_ns nft list table inet container 2>&1)" "masquerade"
dk exec web1 nc -w 10 $OUT_PEER 8000
check_eq "  and NAT works again" "outside peer=$OUT_IP" "$out"
check_contains "the DNS server answers for web1 again" "$(in_ns busybox nslookup web1 "$GW" 2>&1)" "Address: $WEB1_IP"
check_eq "the other table was never touched" "table inet other" "$(in_ns nft list tables | grep other)"
dk rm -f web1
check_eq "web1 removed" "0" "$rc"

# ---- user networks ----
dk network create netA
check_eq "docker network create netA" "0" "$rc"
NETA_ID=$out
dk network create netB
dk network create --internal netI
dk network ls --format '{{.Name}}'
check_eq "docker network ls lists them" "bridge netA netB netI" "$(echo $(sort <<<"$out"))"
A_SUB=$(docker network inspect -f '{{(index .IPAM.Config 0).Subnet}}' netA)
check_eq "netA has the next free /24" "192.168.65.0/24" "$A_SUB"
dk network create --subnet "$A_SUB" netX
check_contains "an overlapping subnet is refused, naming the network" "$rc $out" "netA"
check_eq "netA's bridge is ctrbr-<id>" "ctrbr-${NETA_ID:0:8}" "$(ns_links "$DAEMON_NS" | grep "^ctrbr-${NETA_ID:0:8}")"
dk run -d --name a1 -m 256m --network netA --network-alias alpha busybox sh -c 'mkdir /www && echo "hello from a1" >/www/index.html && exec httpd -f -p 80 -h /www'
check_eq "a1 starts on netA" "0" "$rc"
A1_IP=$(docker inspect -f '{{.NetworkSettings.Networks.netA.IPAddress}}' a1)
wait_for 60 docker exec a1 pidof httpd
dk network rm netA
check_contains "network rm of a network in use: refused naming the container" "$rc $out" "a1"
# a2 on netA and netB (the API takes several endpoints): reaches a1 by name
body=$(api POST '/containers/create?name=a2' '{"Image":"busybox","Cmd":["sh","-c","ip -o -4 addr show | grep -v 127.0.0.1 | wc -l; printf \"GET / HTTP/1.0\\r\\n\\r\\n\" | nc -w 10 a1 80 | tail -1; printf \"GET / HTTP/1.0\\r\\n\\r\\n\" | nc -w 10 alpha 80 | tail -1"],"HostConfig":{"Memory":268435456},"NetworkingConfig":{"EndpointsConfig":{"netA":{},"netB":{"Aliases":["bee"]}}}}')
check_eq "create on two networks" "201" "$(code)"
dk start -a a2
check_eq "a2: two interfaces, a1 by name and by its alias on netA" "2
hello from a1
hello from a1" "$out"
check_eq "inspect a2: both networks" "netA netB" "$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' a2 | xargs)"
dk rm a2
dk run --rm -m 256m --network netB busybox sh -c "nc -w 5 $A1_IP 80 </dev/null 2>/dev/null; echo tcp=\$?; nslookup a1 >/dev/null 2>&1; echo dns=\$?; nc -w 10 $OUT_PEER 8000"
check_eq "netB cannot reach a1 on netA, nor resolve it; it reaches outside" "tcp=1
dns=1
outside peer=$OUT_IP" "$out"
dk run --rm -m 256m --network netI busybox sh -c "nc -w 5 $OUT_PEER 8000 </dev/null 2>/dev/null; echo tcp=\$?; ip route | grep -c default"
check_eq "--internal: no way outside, no default route" "tcp=1
0" "$out"
dk run --rm -m 256m --network none busybox sh -c 'ls /sys/class/net | xargs; test -s /etc/resolv.conf; echo resolv=$?'
check_contains "--network none: only loopback" "$out" "lo
resolv="
check_eq "  (exactly lo)" "lo" "$(head -1 <<<"$out")"
# connect/disconnect: a running container joins live (docs/network.md, 63-net-live.sh)
dk create --name s1 -m 256m --network netB busybox true
dk network connect netB a1
check_eq "connect of a running container (live)" "0" "$rc"
dk network disconnect netB a1
check_eq "  and its disconnect" "0" "$rc"
dk network connect netA s1
check_eq "connect of a stopped container" "0" "$rc"
check_eq "  it is on both" "netA netB" "$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' s1 | xargs)"
dk network disconnect netB s1
check_eq "disconnect" "0 netA" "$rc $(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}' s1)"
dk rm s1
# the pool: a /30 has one address for containers
dk network create --subnet 10.220.0.0/30 tiny
dk create --name t1 --network tiny busybox true
check_eq "the only address of tiny" "0 10.220.0.2" "$rc $(docker inspect -f '{{.NetworkSettings.Networks.tiny.IPAddress}}' t1)"
body=$(api POST '/containers/create?name=t2' '{"Image":"busybox","HostConfig":{"NetworkMode":"tiny"}}')
check_contains "an exhausted pool: 409 naming the network" "$(code) $(jq -r .message <<<"$body")" "409 "
check_contains "  and its subnet" "$body" "network \`tiny\` has no free address (subnet 10.220.0.0/30)"
dk rm t1
dk create --name t3 --network tiny busybox true
check_eq "rm gave the address back" "0 10.220.0.2" "$rc $(docker inspect -f '{{.NetworkSettings.Networks.tiny.IPAddress}}' t3)"
dk rm t3

# ---- remove everything: nothing of ours remains ----
dk rm -f a1
dk network rm netA netB
check_eq "docker network rm netA netB" "0" "$rc"
body=$(api POST /networks/prune)
check_eq "network prune removes the unused ones" "netI tiny" "$(jq -r '.NetworksDeleted | sort | join(" ")' <<<"$body")"
check_eq "only the default network is left" "bridge" "$(docker network ls --format '{{.Name}}')"
links=$(ns_links "$DAEMON_NS" | xargs)
diag "after removal: links: $links" "routes: $(in_ns ip -4 route | xargs -d '\n' | sed 's/ \+/ /g')"
check_eq "no TAP, no user bridge left (ip -j link)" "lo vd ctr0" "$links"
check_eq "no route of a removed network (ip route)" "10.200.0.0/24 dev vd proto kernel scope link src $OUT_IP
192.168.64.0/24 dev ctr0 proto kernel scope link src $GW
default via $OUT_PEER dev vd" "$(in_ns ip -4 route | sed 's/ linkdown//; s/ *$//' | sort)"
rules=$(in_ns nft list ruleset)
check_eq "no rule of a removed network (nft list ruleset)" "0" "$(grep -c ctrbr- <<<"$rules")"
kill "$HOSTSVC_PID"
wait_for 10 sh -c "! kill -0 $HOSTSVC_PID 2>/dev/null"
listen=$(in_ns ss -Hltnup | awk '{print $1, $5}' | sort | xargs)
diag "after removal: listeners: $listen" "nft: $(in_ns nft list tables | xargs)"
check_eq "no listener but the default network's DNS (ss -ltnup)" "tcp $GW:53 udp $GW:53" "$listen"
check_eq "no container left" "" "$(docker ps -aq)"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
check_eq "the daemon stops cleanly" "0" "$?"
check_eq "then no bridge is left" "lo vd" "$(ns_links "$DAEMON_NS" | xargs)"
check_eq "no table of ours, the other one kept" "table inet other" "$(in_ns nft list tables)"
check_eq "no listener" "" "$(in_ns ss -Hltnup)"

# ---- networking unavailable (ctr0 taken by a non-bridge): `--network none` still works ----
ip -n "$DAEMON_NS" link add ctr0 type veth peer name ctr0p
check_eq "a veth takes the name ctr0" "0" "$?"
daemon_start || need "the daemon did not start again"
dk create -m 256m busybox true
check_contains "networking unavailable: create is refused with the reason" "$rc $out" "networking is unavailable"
check_contains "  (naming the bridge)" "$out" "ctr0"
dk run --rm -m 256m --network none busybox echo still-works
check_eq "  a --network none container still runs" "0 still-works" "$rc $out"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
check_eq "  and the daemon leaves alone the link it did not make" "ctr0 veth" \
    "$(ip -n "$DAEMON_NS" -j -d link show ctr0 | jq -r '.[0] | "\(.ifname) \(.linkinfo.info_kind)"')"
check_eq "the daemon's stderr holds no sanitizer report" "" "$(grep -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error' "$T_TMP/daemon.err")"
plan_end
