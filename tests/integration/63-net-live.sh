#!/usr/bin/env bash
# Live network changes and IPAM extras (issue 13, docs/network.md "Live connect"): a
# running container joins a second network (an address on its NIC, spliced by the host
# to the network's bridge) and reaches a container
# there by name and address, both networks' DNS servers answer for it, a daemon SIGKILL
# keeps the connection, disconnect stops names and traffic, a reconnect with a static
# address, a container restart that keeps the network (now a NIC of its own); IPRange,
# static IPs (--ip, python3-docker ipv4_address), MACs (--mac-address) and docker's
# errors. The daemon runs in its own network namespace. VMs: busybox, two at once.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/40-daemon-lib.bash"
source "$(dirname "$0")/80-network-lib.bash"
plan_start
daemon_fixtures
for tool in docker python3; do
    command -v $tool >/dev/null || need "$tool missing (apt-get install docker.io python3)"
done
python3 -c 'import docker' 2>/dev/null || need "python3-docker missing (apt-get install python3-docker)"
daemon_start || need "the daemon did not start"
PY=/usr/bin/python3
msg() { jq -r .message; }

# ---- networks: IPRange, a network without a user subnet ----
dk network create --subnet 10.91.0.0/24 --ip-range 10.91.0.128/26 netl
check_eq "network create --subnet --ip-range" "0" "$rc"
[ "$rc" = 0 ] || diag "$out"
check_eq "  inspect shows the range" "10.91.0.0/24 10.91.0.1 10.91.0.128/26" \
    "$(api GET /networks/netl | jq -r '.IPAM.Config[0] | "\(.Subnet) \(.Gateway) \(.IPRange)"')"
dk network create netx
check_eq "network create netx (its subnet chosen by the daemon)" "0" "$rc"
body=$(api POST /networks/create '{"Name":"bad","IPAM":{"Config":[{"Subnet":"10.93.0.0/24","IPRange":"10.94.0.0/28"}]}}')
check_eq "an IPRange outside the subnet: 400" "400 ip-range \`10.94.0.0/28\` is not inside subnet \`10.93.0.0/24\`" "$(code) $(msg <<<"$body")"
body=$(api POST /networks/create '{"Name":"bad","IPAM":{"Config":[{"IPRange":"10.94.0.0/28"}]}}')
check_eq "an IPRange without a subnet: 400" "400" "$(code)"

# ---- static addresses: docker's errors (create, no VM) ----
ep() { printf '{"Image":"busybox","HostConfig":{"NetworkMode":"%s"},"NetworkingConfig":{"EndpointsConfig":{"%s":{"IPAMConfig":{"IPv4Address":"%s"}}}}}' "$1" "$1" "$2"; }
body=$(api POST /containers/create "$(ep bridge 192.168.64.77)")
check_eq "--ip on the default network: 400, docker's words" \
    "400 user specified IP address is supported on user defined networks only" "$(code) $(msg <<<"$body")"
body=$(api POST /containers/create "$(ep netx 10.89.0.77)")
check_eq "--ip on a network without a user subnet: 400, docker's words" \
    "400 user specified IP address is supported only when connecting to networks with user configured subnets" "$(code) $(msg <<<"$body")"
body=$(api POST /containers/create "$(ep netl 10.92.0.5)")
check_eq "--ip outside the subnet: 400, docker's words" \
    "400 Invalid address 10.92.0.5: It does not belong to any of this network's subnets" "$(code) $(msg <<<"$body")"
body=$(api POST /containers/create "$(ep netl 10.91.0.1)")
check_eq "--ip of the gateway: 403 Address already in use" "403 Address already in use" "$(code) $(msg <<<"$body")"
body=$(api POST /containers/create '{"Image":"busybox","HostConfig":{"NetworkMode":"netl"},"NetworkingConfig":{"EndpointsConfig":{"netl":{"MacAddress":"01:00:5e:00:00:01"}}}}')
check_eq "a multicast MAC: 400" "400" "$(code)"
check_eq "nothing was created" "0" "$(api GET '/containers/json?all=1' | jq length)"

# ---- IPRange: dynamic addresses come from it ----
dk create --name r1 --network netl busybox true
r1ip=$(docker inspect -f '{{.NetworkSettings.Networks.netl.IPAddress}}' r1 2>/dev/null)
check_eq "a container on netl gets an address of the range" "10.91.0.128" "$r1ip"
dk rm r1

# ---- cb: static address and MAC on netl, an httpd ----
mkdir -p "$T_TMP/tools"
cat >"$T_TMP/tools/web.sh" <<'EOF'
mkdir -p /www && echo "hello from $1" >/www/index.html
exec httpd -f -p 80 -h /www
EOF
# (the docker CLI sends --mac-address per network, which needs API 1.44: the API here,
# with Config.MacAddress as docker run does below 1.44, and a static address)
create_start cb '{"Image":"busybox","Cmd":["sh","/t/web.sh","cb"],"MacAddress":"02:00:00:aa:bb:cc",
 "HostConfig":{"NetworkMode":"netl","Memory":268435456,"Binds":["'"$T_TMP"'/tools:/t:ro"]},
 "NetworkingConfig":{"EndpointsConfig":{"netl":{"IPAMConfig":{"IPv4Address":"10.91.0.50"}}}}}'
check_eq "b: a static address (10.91.0.50) and Config.MacAddress 02:00:00:aa:bb:cc" "0" "$?"
check_eq "  inspect: address, MAC, IPAMConfig" "10.91.0.50 02:00:00:aa:bb:cc 10.91.0.50" \
    "$(api GET /containers/cb/json | jq -r '.NetworkSettings.Networks.netl | "\(.IPAddress) \(.MacAddress) \(.IPAMConfig.IPv4Address)"')"
dk exec cb cat /sys/class/net/eth0/address
check_eq "  the guest NIC has the MAC" "02:00:00:aa:bb:cc" "$out"
body=$(api POST /containers/create "$(ep netl 10.91.0.50)")
check_eq "--ip of b's address: 403 Address already in use" "403 Address already in use" "$(code) $(msg <<<"$body")"
[ "$(code)" = 201 ] && api DELETE "/containers/$(jq -r .Id <<<"$body")" >/dev/null

# ---- ca: running on the default network, a published port ----
dk run -d --name ca -m 256m -v "$T_TMP/tools:/t:ro" -p 127.0.0.1:8090:80 busybox sh /t/web.sh ca
check_eq "docker run -d -p 127.0.0.1:8090:80 a" "0" "$rc"
[ "$rc" = 0 ] || diag "$out" "$(grep -v ' debug ' "$T_TMP/daemon.log" | tail -8)"
wait_for 120 in_ns curl -sf http://127.0.0.1:8090/
check_eq "a's published port answers" "hello from ca" "$(in_ns curl -s -m 10 http://127.0.0.1:8090/)"
A_ID=$(docker inspect -f '{{.Id}}' ca)
dk exec ca sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 5 10.91.0.50 80 | tail -1'
check_eq "before connect a cannot reach b" "0" "$(grep -c 'hello from' <<<"$out")"

# ---- live connect (python3-docker, ipv4_address and an alias) ----
res=$($PY - "$DOCKER_HOST" <<'EOF' 2>&1
import sys, docker
c = docker.DockerClient(base_url=sys.argv[1])
c.networks.get("netl").connect("ca", ipv4_address="10.91.0.60", aliases=["web"])
print("ok")
EOF
)
check_eq "python3-docker network.connect(running a, ipv4_address=10.91.0.60)" "ok" "$res"
[ "$res" = ok ] || diag "$(tail -5 "$T_TMP/daemon.log")"
check_eq "  inspect: a on both networks" "bridge netl 10.91.0.60" \
    "$(api GET /containers/ca/json | jq -r '[(.NetworkSettings.Networks | keys | join(" ")), .NetworkSettings.Networks.netl.IPAddress] | join(" ")')"
check_contains "  host: a veth of a's into netl's bridge" \
    "$(ip -n "$DAEMON_NS" -d -j link show "ctv${A_ID:0:10}1" | jq -r '.[0] | "\(.linkinfo.info_kind) \(.master)"')" "veth ctrbr-"
check_contains "  and the netdev table that splices it to a's TAP" \
    "$(in_ns nft list table netdev "ctv${A_ID:0:10}1" 2>&1)" "ip saddr 10.91.0.60 fwd to \"ctw${A_ID:0:10}1\""
dk exec ca ip -o -4 addr show
check_contains "  guest: a has 10.91.0.60 on its NIC" "$out" "10.91.0.60/24"
dk exec ca sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 10 cb 80 | tail -1'
check_eq "a reaches b by name" "hello from cb" "$out"
dk exec ca ping -c 1 -W 5 10.91.0.50
check_eq "a pings b's address" "0" "$rc"
dk exec cb sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 10 ca 80 | tail -1'
check_eq "b reaches a by name" "hello from ca" "$out"
dk exec cb sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 10 web 80 | tail -1'
check_eq "b reaches a by its alias" "hello from ca" "$out"
check_contains "DNS of netl answers a" "$(in_ns busybox nslookup ca 10.91.0.1 2>&1)" "Address: 10.91.0.60"
A_IP0=$(docker inspect -f '{{.NetworkSettings.Networks.bridge.IPAddress}}' ca)
check_contains "DNS of the default network still answers a" "$(in_ns busybox nslookup ca 192.168.64.1 2>&1)" "Address: $A_IP0"
dk exec ca cat /etc/hosts
check_contains "a's /etc/hosts has the alias" "$out" " web"
check_eq "a's published port still answers" "hello from ca" "$(in_ns curl -s -m 10 http://127.0.0.1:8090/)"
body=$(api POST /networks/netl/connect '{"Container":"ca"}')
check_eq "connect again: 409" "409" "$(code)"

# ---- daemon SIGKILL: the live connection stays ----
kill -9 "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
daemon_start || need "the daemon did not start again"
check_eq "after a daemon SIGKILL a is still on netl" "10.91.0.60" \
    "$(docker inspect -f '{{.NetworkSettings.Networks.netl.IPAddress}}' ca 2>&1)"
dk exec cb sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 10 ca 80 | tail -1'
check_eq "  b still reaches a by name" "hello from ca" "$out"

# ---- live disconnect (docker CLI) ----
dk network disconnect netl ca
check_eq "docker network disconnect netl a (running)" "0" "$rc"
[ "$rc" = 0 ] || diag "$out"
check_eq "  the host's veth and table are gone" "00" \
    "$(ip -n "$DAEMON_NS" -o link show "ctv${A_ID:0:10}1" 2>/dev/null | wc -l)$(in_ns nft list tables | grep -c "ctv${A_ID:0:10}")"
dk exec ca ip -o -4 addr show
check_eq "  and the guest's" "0" "$(grep -c 10.91.0.60 <<<"$out")"
grep -q 10.91.0.60 <<<"$out" && diag "$out" "$(grep -E 'left network|joined network|net ' "$T_TMP/daemon.log" | tail -5)"
dk exec cb nslookup ca
check_eq "  b no longer resolves a" "1" "$([ "$rc" = 0 ] && echo 0 || echo 1)"
dk exec cb ping -c 1 -W 3 10.91.0.60
check_eq "  nor reaches its old address" "1" "$([ "$rc" = 0 ] && echo 0 || echo 1)"
check_eq "  netl's DNS server no longer knows a" "1" \
    "$(in_ns busybox nslookup ca 10.91.0.1 >/dev/null 2>&1 && echo 0 || echo 1)"
dk exec ca cat /etc/hosts
check_eq "  nor does a's /etc/hosts know the alias" "0" "$(grep -c ' web' <<<"$out")"
check_eq "  and the address went back to the pool" "null" \
    "$(api GET /networks/netl | jq -c ".Containers[\"$A_ID\"]")"

# ---- reconnect (docker CLI, --ip), then a restart of a: the network stays ----
dk network connect --ip 10.91.0.61 netl ca
check_eq "docker network connect --ip 10.91.0.61 netl a (running)" "0" "$rc"
[ "$rc" = 0 ] || diag "$out"
dk exec cb sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 10 ca 80 | tail -1'
check_eq "  b reaches a again" "hello from ca" "$out"
dk restart -t 1 ca
check_eq "docker restart a" "0" "$rc"
wait_for 120 in_ns curl -sf http://127.0.0.1:8090/
check_eq "after the restart a keeps 10.91.0.61" "10.91.0.61" \
    "$(docker inspect -f '{{.NetworkSettings.Networks.netl.IPAddress}}' ca)"
dk exec ca ip -o -4 addr show
check_contains "  now on a NIC of its own" "$out" "10.91.0.61/24"
check_eq "  (not the default network's)" "1" \
    "$(awk '/inet 10\.91\.0\.61\// {a=$2} /inet 192\.168\./ {b=$2} END {print (a != "" && a != b)}' <<<"$out")"
check_eq "  the veth of the live connection is gone" "0" "$(ip -n "$DAEMON_NS" -o link show "ctv${A_ID:0:10}1" 2>/dev/null | wc -l)"
dk exec cb sh -c 'printf "GET / HTTP/1.0\r\n\r\n" | nc -w 10 ca 80 | tail -1'
check_eq "  b reaches a by name" "hello from ca" "$out"
dk network disconnect netl ca
check_eq "disconnect a NIC the VM booted with (running)" "0" "$rc"
dk exec cb ping -c 1 -W 3 10.91.0.61
check_eq "  its traffic stops" "1" "$([ "$rc" = 0 ] && echo 0 || echo 1)"
check_eq "a's published port still answers" "hello from ca" "$(in_ns curl -s -m 10 http://127.0.0.1:8090/)"

dk rm -f ca cb
check_eq "a and b removed" "0" "$rc"
dk network rm netl netx
check_eq "networks removed" "0" "$rc"
check_eq "the daemon's stderr holds no sanitizer report" "" "$(grep -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error' "$T_TMP/daemon.err")"
plan_end
