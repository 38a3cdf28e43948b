#!/usr/bin/env bash
# The host half of networking (src/net) against a real kernel, entirely inside network
# namespaces this test makes: bridges (create, address, MTU, fixed MAC, idempotency, refusal
# of a non-bridge), link deletion, route-conflict detection, the network store choosing a
# subnet around host routes, IP forwarding, and the `inet container` nftables table (layout,
# idempotency, deletion, other tables untouched) — then packets: NAT'd egress, isolation
# between networks, internal networks cut off, nothing routed in from outside.
# Nothing is created outside the namespaces (checked at the end).
. "$(dirname "$0")/../lib.sh"
plan_start

TOOL=$BIN/ctr-net
[ -x "$TOOL" ] || { not_ok "ctr-net is not built ($TOOL)"; plan_end; exit; }
PY=/usr/bin/python3
# H: the "daemon's" namespace (bridges, rules); every namespace is deleted at exit.
if ! netns_add H host 2>"$T_TMP/netns.err"; then
    need "cannot create a network namespace (\`ip netns add\` needs root): $(cat "$T_TMP/netns.err")"
fi
in_h() { ip netns exec "$H" "$@"; }
net() { ip netns exec "$H" "$TOOL" "$@"; }

# The host outside the namespaces, to compare at the end.
host_links_before=$(ip -o link show | awk -F': ' '{print $2}' | sort)
host_tables_before=$(nft list tables 2>/dev/null | sort)
host_fwd_before=$(cat /proc/sys/net/ipv4/ip_forward)

# ---- bridges ----
check "bridge-ensure creates ctr0" net bridge-ensure ctr0 192.168.64.1/24 1500
link=$(in_h ip -d -j link show ctr0)
check_eq "ctr0 is a bridge" bridge "$(jq -r '.[0].linkinfo.info_kind' <<<"$link")"
check_contains "ctr0 is up" "$(jq -r '.[0].flags | join(",")' <<<"$link")" UP
check_eq "ctr0 MTU" 1500 "$(jq -r '.[0].mtu' <<<"$link")"
check_eq "ctr0 has the fixed MAC of its gateway" 02:42:c0:a8:40:01 "$(jq -r '.[0].address' <<<"$link")"
addrs() { in_h ip -j addr show "$1" | jq -r '[.[0].addr_info[] | select(.family=="inet") | "\(.local)/\(.prefixlen)"] | join(" ")'; }
check_eq "ctr0 carries the gateway address" "192.168.64.1/24" "$(addrs ctr0)"
check "bridge-ensure again succeeds" net bridge-ensure ctr0 192.168.64.1/24 1500
check_eq "idempotent: still one address" "192.168.64.1/24" "$(addrs ctr0)"
check_eq "idempotent: no new link" "lo ctr0" "$(in_h ip -j link | jq -r '[.[].ifname] | join(" ")')"
check "bridge-ensure with another MTU" net bridge-ensure ctr0 192.168.64.1/24 1400
check_eq "MTU updated" 1400 "$(in_h ip -j link show ctr0 | jq -r '.[0].mtu')"
in_h ip link add brx type bridge
check "bridge-ensure on an existing bridge without address" net bridge-ensure brx 10.77.0.1/24
check_eq "the address was added" "10.77.0.1/24" "$(addrs brx)"
check_eq "default MTU 1500" 1500 "$(in_h ip -j link show brx | jq -r '.[0].mtu')"
in_h ip link add vx0 type veth peer name vx1
out=$(net bridge-ensure vx0 10.78.0.1/24 2>&1)
check_eq "a non-bridge is refused" 125 "$?"
check_contains "the refusal says why" "$out" "network interface \`vx0\` exists and is not a bridge (veth)"
check_eq "the veth got no address" "" "$(addrs vx0)"
out=$(net bridge-ensure abcdefghijklmnopq 10.78.0.1/24 2>&1)
check_contains "a too-long name is refused" "$out" "invalid bridge name"

# ---- links ----
check "link-exists brx" net link-exists brx
check "link-delete brx" net link-delete brx
net link-exists brx
check_eq "brx is gone" 1 "$?"
check "link-delete of a missing link succeeds" net link-delete brx

# ---- a network joined live: a veth into its bridge, spliced to the VM's TAP ----
in_h ip tuntap add mode tap name ctaptest00000 && in_h ip link set ctaptest00000 master ctr0
net bridge-ensure ctrbr-splice0 10.79.0.1/24 >/dev/null
check "veth-add: a pair, one end on the bridge" net veth-add ctvtest0000001 ctwtest0000001 ctrbr-splice0
check_eq "  kind veth, on the bridge, up; the peer up in no bridge" "veth ctrbr-splice0 true null true" \
    "$(in_h ip -d -j link show ctvtest0000001 | jq -r '.[0] | "\(.linkinfo.info_kind) \(.master) \(.flags | index("UP") != null)"') $(in_h ip -j link show ctwtest0000001 | jq -r '.[0] | "\(.master) \(.flags | index("UP") != null)"')"
check "veth-add again succeeds (a retry)" net veth-add ctvtest0000001 ctwtest0000001 ctrbr-splice0
check "splice: the netdev table" net splice ctvtest0000001 ctaptest00000 ctwtest0000001 10.79.0.9
rules=$(in_h nft list table netdev ctvtest0000001 2>&1)
check_contains "  the VM's frames from its address go to the veth" "$rules" 'ip saddr 10.79.0.9 fwd to "ctwtest0000001"'
check_contains "  its ARP too" "$rules" 'arp saddr ip 10.79.0.9 fwd to "ctwtest0000001"'
check_contains "  everything from the veth goes to the TAP" "$rules" 'fwd to "ctaptest00000"'
check "splice again replaces it" net splice ctvtest0000001 ctaptest00000 ctwtest0000001 10.79.0.9
check_eq "  one table" "1" "$(in_h nft list tables | grep -c ctvtest0000001)"
check "link-detach takes the TAP off its bridge" net link-detach ctaptest00000
check_eq "  no master left" "null" "$(in_h ip -j link show ctaptest00000 | jq -r '.[0].master')"
check "splice-delete" net splice-delete ctvtest0000001
check "splice-delete of a missing table succeeds" net splice-delete ctvtest0000001
check "link-delete of one end" net link-delete ctvtest0000001
net link-exists ctwtest0000001
check_eq "  takes the other" 1 "$?"
in_h ip link del ctaptest00000
net link-delete ctrbr-splice0 >/dev/null

# ---- routes ----
in_h ip link set vx0 up
in_h ip route add 10.0.0.0/8 dev vx0
in_h ip addr add 172.30.0.2/16 dev vx0
out=$(net route-conflict 10.89.0.0/24)
check_eq "route-conflict finds the covering route" "1 10.0.0.0/8 dev vx0" "$? $out"
out=$(net route-conflict 172.30.200.0/24)
check_eq "route-conflict finds a connected subnet" "1 172.30.0.0/16 dev vx0" "$? $out"
out=$(net route-conflict 172.31.0.0/24)
check_eq "no conflict outside the routes" "0 " "$? $out"
out=$(net route-conflict 192.168.64.0/25)
check_eq "routes of our own ctr* bridges are ignored" "0 " "$? $out"
in_h ip route add 192.168.64.0/20 via 172.30.0.1
out=$(net route-conflict 192.168.70.0/24)
check_eq "a gatewayed route is named by its device" "1 192.168.64.0/20 dev vx0" "$? $out"

# ---- the store around host routes ----
D=$T_TMP/data
out=$(net network-create "$D" default)
check_eq "default network skips routed subnets" "ctr0 192.168.80.0/24 192.168.80.1" "$(cut -d' ' -f2- <<<"$out")"
out=$(net network-create "$D" web 10.5.0.0/16 2>&1)
check_contains "an explicit subnet on a route is refused, naming it" "$out" "subnet 10.5.0.0/16 overlaps host route 10.0.0.0/8 dev vx0"
out=$(net network-create "$D" web 192.168.80.128/25 2>&1)
check_contains "an overlap with another network is refused, naming it" "$out" "overlaps network \`default\` (192.168.80.0/24)"
out=$(net network-create "$D" web)
check_eq "the next network gets the next free /24" "192.168.81.0/24" "$(cut -d' ' -f3 <<<"$out")"
check_eq "user bridges are ctrbr-<id>" "ctrbr-${out:0:8}" "$(cut -d' ' -f2 <<<"$out")"
check_eq "allocations start after the gateway" 192.168.81.2 "$(net ipam-allocate "$D" web c1)"
check_eq "the same owner keeps its address" 192.168.81.2 "$(net ipam-allocate "$D" web c1)"
check_eq "the next owner gets the next" 192.168.81.3 "$(net ipam-allocate "$D" web c2)"
check "release" net ipam-release "$D" web c1
check_eq "released addresses are reused last" 192.168.81.4 "$(net ipam-allocate "$D" web c3)"

# ---- forwarding ----
in_h sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward'
check "forward-enable" net forward-enable
check_eq "ip_forward is on in the namespace" 1 "$(in_h cat /proc/sys/net/ipv4/ip_forward)"

# ---- nftables ----
in_h nft 'add table inet other; add chain inet other c { type filter hook input priority 0; }; add rule inet other c tcp dport 9 counter'
other_before=$(in_h nft list table inet other)
net bridge-ensure ctr0 192.168.64.1/24 1500 >/dev/null
net bridge-ensure ctrbr-aaaa0001 192.168.65.1/24 >/dev/null
net bridge-ensure ctrbr-aaaa0002 10.89.0.1/24 >/dev/null
NETS=(ctr0=192.168.64.0/24 ctrbr-aaaa0001=192.168.65.0/24 ctrbr-aaaa0002=10.89.0.0/24,internal)
check "nft-apply three networks" net nft-apply "${NETS[@]}"
j=$(in_h nft -j list table inet container)
check_eq "forward chain hook" "filter forward 0 accept" "$(jq -r '.nftables[] | select(.chain.name=="forward") | .chain | "\(.type) \(.hook) \(.prio) \(.policy)"' <<<"$j")"
check_eq "postrouting chain hook" "nat postrouting 100 accept" "$(jq -r '.nftables[] | select(.chain.name=="postrouting") | .chain | "\(.type) \(.hook) \(.prio) \(.policy)"' <<<"$j")"
masq=$(jq -r '[.nftables[] | select(.rule.chain=="postrouting") | .rule.expr[0].match.right.prefix | "\(.addr)/\(.len)"] | join(" ")' <<<"$j")
check_eq "masquerade for the non-internal subnets only" "192.168.64.0/24 192.168.65.0/24" "$masq"
check_eq "first forward rule accepts established,related" '["established","related"]' \
    "$(jq -c '[.nftables[] | select(.rule.chain=="forward")][0].rule.expr[0].match.right' <<<"$j")"
text1=$(in_h nft list table inet container)
check "nft-apply again" net nft-apply "${NETS[@]}"
check_eq "idempotent: the same ruleset" "$text1" "$(in_h nft list table inet container)"
check_eq "one table of ours" 1 "$(in_h nft list tables | grep -c 'inet container')"
check "nft-apply two networks" net nft-apply ctr0=192.168.64.0/24 ctrbr-aaaa0001=192.168.65.0/24
check_eq "rebuilt without the third" 0 "$(in_h nft list table inet container | grep -c aaaa0002)"
check_eq "other tables untouched" "$other_before" "$(in_h nft list table inet other)"
check "nft-apply again with three" net nft-apply "${NETS[@]}"

# ---- packets: namespaces as containers and as the outside world ----
# peer NAME BRIDGE ADDR/PREFIX GATEWAY: a namespace wired to BRIDGE by a veth.
peer() {
    local pns i=${1:0:3}$$
    netns_add pns "$1"
    printf -v "NS_$1" '%s' "$pns"
    ip link add "h$i" netns "$H" type veth peer name eth0 netns "$pns"
    in_h ip link set "h$i" master "$2" up
    ip netns exec "$pns" ip link set eth0 up
    ip netns exec "$pns" ip addr add "$3" dev eth0
    ip netns exec "$pns" ip route add default via "$4"
}
peer a ctr0 192.168.64.2/24 192.168.64.1
peer a2 ctr0 192.168.64.3/24 192.168.64.1
peer b ctrbr-aaaa0001 192.168.65.2/24 192.168.65.1
peer c ctrbr-aaaa0002 10.89.0.2/24 10.89.0.1
netns_add OUT out
ip link add up$$ netns "$H" type veth peer name eth0 netns "$OUT"
in_h ip addr add 203.0.113.1/24 dev up$$
in_h ip link set up$$ up
ip netns exec "$OUT" ip link set eth0 up
ip netns exec "$OUT" ip addr add 203.0.113.2/24 dev eth0
# The outside knows a way back to the container subnets (it must still not get in).
ip netns exec "$OUT" ip route add 192.168.64.0/18 via 203.0.113.1
ip netns exec "$OUT" ip route add 10.89.0.0/16 via 203.0.113.1

# serve NS PORT LOG: a TCP server writing each peer's address to LOG.
serve() {
    ip netns exec "$1" "$PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c, a = s.accept()
    with open(sys.argv[2], "a") as f: f.write(a[0] + "\n")
    c.sendall(b"hi\n"); c.close()' "$2" "$3" &
    local pid=$!
    at_exit "kill $pid"
}
# reach NS ADDR PORT: exit 0 when a connection succeeds within 2 s
reach() {
    ip netns exec "$1" "$PY" -c '
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).recv(3)' "$2" "$3" 2>/dev/null
}
serve "$OUT" 8080 "$T_TMP/out.log"
serve "$NS_a" 8081 "$T_TMP/a.log"
serve "$NS_b" 8082 "$T_TMP/b.log"
serve "$NS_c" 8083 "$T_TMP/c.log"
serve "$H" 8084 "$T_TMP/h.log"
for i in $(seq 50); do
    [ "$(ip netns exec "$OUT" ss -Htln 'sport = :8080' | wc -l)" -gt 0 ] &&
        [ "$(in_h ss -Htln 'sport = :8084' | wc -l)" -gt 0 ] &&
        [ "$(ip netns exec "$NS_c" ss -Htln 'sport = :8083' | wc -l)" -gt 0 ] && break
    sleep 0.1
done

check "a container reaches the outside" reach "$NS_a" 203.0.113.2 8080
check_eq "the outside sees the NAT'd address" 203.0.113.1 "$(tail -1 "$T_TMP/out.log")"
check "a container on a user network reaches the outside" reach "$NS_b" 203.0.113.2 8080
check "containers on one network reach each other" reach "$NS_a2" 192.168.64.2 8081
check "a container reaches its gateway (host services)" reach "$NS_a" 192.168.64.1 8084
reach "$NS_a" 192.168.65.2 8082
check_eq "default → user network is dropped" 1 "$?"
reach "$NS_b" 192.168.64.2 8081
check_eq "user network → default is dropped" 1 "$?"
reach "$NS_c" 203.0.113.2 8080
check_eq "an internal network cannot reach outside" 1 "$?"
reach "$NS_c" 192.168.64.2 8081
check_eq "an internal network cannot reach other networks" 1 "$?"
check "an internal network reaches its gateway (DNS lives there)" reach "$NS_c" 10.89.0.1 8084
reach "$NS_a" 10.89.0.2 8083
check_eq "nothing enters an internal network" 1 "$?"
reach "$OUT" 192.168.64.2 8081
check_eq "the outside cannot route into a network" 1 "$?"
check_eq "only NAT'd connections reached the outside" "203.0.113.1 203.0.113.1" "$(tr '\n' ' ' <"$T_TMP/out.log" | sed 's/ $//')"

# ---- a network joined live: a2 (on ctr0) gets an address of b's network, spliced ----
ip netns exec "$NS_a2" ip addr add 192.168.65.9/24 dev eth0
reach "$NS_a2" 192.168.65.2 8082
check_eq "before the splice a2 cannot reach b's network" 1 "$?"
net veth-add ctvsplice00001 ctwsplice00001 ctrbr-aaaa0001 >/dev/null &&
    net splice ctvsplice00001 "ha2$$" ctwsplice00001 192.168.65.9 >/dev/null
check "with the splice a2 reaches b by its address on b's network" reach "$NS_a2" 192.168.65.2 8082
check "  and still its own network" reach "$NS_a2" 192.168.64.2 8081
serve "$NS_a2" 8085 "$T_TMP/a2.log"
for i in $(seq 50); do [ "$(ip netns exec "$NS_a2" ss -Htln 'sport = :8085' | wc -l)" -gt 0 ] && break; sleep 0.1; done
check "b reaches a2 at its spliced address" reach "$NS_b" 192.168.65.9 8085
check_eq "  seen from b's address" 192.168.65.2 "$(tail -1 "$T_TMP/a2.log")"
reach "$NS_a" 192.168.65.9 8085
check_eq "a (a2's neighbour on ctr0) does not reach that address" 1 "$?"
net splice-delete ctvsplice00001 >/dev/null && net link-delete ctvsplice00001 >/dev/null
reach "$NS_a2" 192.168.65.2 8082
check_eq "without the splice the traffic stops" 1 "$?"

# ---- deletion ----
check "nft-apply with no networks deletes the table" net nft-apply
in_h nft list table inet container >/dev/null 2>&1
check_eq "table gone" 1 "$?"
check "deleting again succeeds" net nft-apply
check_eq "other tables still untouched" "$other_before" "$(in_h nft list table inet other)"
check "without the table, connections still leave" reach "$NS_a" 203.0.113.2 8080
check_eq "... but un-NAT'd: the masquerade was ours" 192.168.64.2 "$(tail -1 "$T_TMP/out.log")"
check "... and between networks: the drops were ours" reach "$NS_a" 192.168.65.2 8082

# ---- nothing outside the namespaces ----
check_eq "no new link on the host" "$host_links_before" "$(ip -o link show | awk -F': ' '{print $2}' | sort)"
check_eq "host nftables tables unchanged" "$host_tables_before" "$(nft list tables 2>/dev/null | sort)"
check_eq "host ip_forward unchanged" "$host_fwd_before" "$(cat /proc/sys/net/ipv4/ip_forward)"
plan_end
