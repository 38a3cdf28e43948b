#!/usr/bin/env bash
# Container networking between the bundle and the guest, without the daemon: in a
# network namespace of this test (never the host's) a bridge ctr0 192.168.64.1/24 is
# made with `ip`, and container-runtime runs bundles whose config.json carries
# `networks`, `ports` and `setup.network` (added with jq). Checks: the guest's address,
# route, MTU, /etc/hosts and /etc/resolv.conf; ping and HTTP (nc: the image's busybox
# wget crashes, also on the host) to the gateway; published
# TCP and UDP ports through the shim's proxy from 127.0.0.1; refusals (port in use,
# missing bridge, too many NICs) with exit 125; TAPs gone after the container; no
# networks = only lo. At most one VM at a time.
source "$(dirname "$0")/../lib.sh"
plan_start

source "$(dirname "$0")/30-runtime-lib.bash"
ECHO=$BIN/ctr-udp-echo
runtime_fixtures "$BIN/ctr-prepare" "$ECHO"
for t in ip curl busybox; do command -v $t >/dev/null || need "$t missing"; done
[ -c /dev/net/tun ] || need "/dev/net/tun missing (modprobe tun)"
DATA=$T_TMP/data
"$PREP" load --root "$DATA" "$T_TMP/oci" --name busybox >/dev/null 2>"$T_TMP/load.log" ||
    need "loading the busybox image failed: $(tail -3 "$T_TMP/load.log")"

# ---- the namespace: bridge ctr0 with the gateway address, an HTTP server on it ----
netns_add NS net || need "ip netns add failed (root needed)"
inns() { ip netns exec "$NS" "$@"; }
ip -n "$NS" link add ctr0 type bridge &&
    ip -n "$NS" addr add 192.168.64.1/24 dev ctr0 &&
    ip -n "$NS" link set ctr0 up || need "bridge set-up in the namespace failed"
mkdir -p "$T_TMP/www" "$T_TMP/share"
echo gateway-hello >"$T_TMP/www/hello.txt"
inns busybox httpd -p 192.168.64.1:8000 -h "$T_TMP/www" # daemonizes; dies with the netns
cp "$ECHO" "$T_TMP/share/"

GW=192.168.64.1
# mkb NAME ID [ctr-prepare flags] -- CMD...: a bundle; its config.json in $cfg
mkb() {
    local name=$1 id=$2 flags=()
    shift 2
    while [ "$1" != -- ]; do flags+=("$1"); shift; done
    shift
    b=$T_TMP/$name
    cfg=$b/config.json
    "$PREP" bundle --root "$DATA" --kernel "$kernel" --initrd "$initrd" -m 256m -c 1 --id "$id" \
        "${flags[@]+"${flags[@]}"}" "$b" busybox "$@" >"$b.prep" 2>&1 || {
        cat "$b.prep"
        return 1
    }
}
# jqi FILTER [jq args]: edit $cfg in place
jqi() {
    local f=$1
    shift
    jq "$@" "$f" "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
}
# net IP MAC TAP [MTU]: one NIC on ctr0 with its guest side and a gateway
net() {
    jqi '.networks = [{tap: $tap, bridge: "ctr0", mac: $mac, mtu: $mtu}]
         | .setup.network.interfaces = [{mac: $mac, address: ($ip + "/24"), gateway: $gw, mtu: $mtu}]' \
        --arg ip "$1" --arg mac "$2" --arg tap "$3" --argjson mtu "${4:-1500}" --arg gw "$GW"
}
taps() { ip -n "$NS" -o link show 2>/dev/null | grep -o 'ctap[0-9a-f]*' | sort -u | tr '\n' ' '; }

# ---- 1: a foreground container on the bridge ----
ID1=$(printf '0123456789abcdef%.0s' 1 2 3 4)
TAP1=ctap01234567890
mkb fg $ID1 -h web1 -- sh -c '
    ip -4 addr show dev eth0; echo ---; ip route; echo ---; cat /sys/class/net/eth0/mtu
    ping -c 1 -W 10 '$GW' >/dev/null && echo PING-OK
    printf "GET /hello.txt HTTP/1.0\r\n\r\n" | nc '$GW' 8000 | tail -1
    echo ---; cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; ls /sys/class/net' ||
    need "ctr-prepare bundle failed"
net 192.168.64.5 02:42:c0:a8:40:05 $TAP1 1400
jqi '.setup.network.hosts = "127.0.0.1\tlocalhost\n192.168.64.5\tweb1 0123456789ab\n192.168.64.9\tother\n"
     | .setup.network.resolv = "nameserver 192.168.64.1\nsearch test.internal\noptions ndots:2\n"'
rc=0
timeout -k 5 180 ip netns exec "$NS" "$RT" run "$b" >"$b.out" 2>"$b.err" </dev/null || rc=$?
out=$(cat "$b.out")
check_eq "a container with a NIC runs (exit 0)" 0 "$rc"
[ "$rc" = 0 ] || diag "$(tail -20 "$b.err")" "$(tail -20 "$b/boot.log" 2>/dev/null)"
check_contains "eth0 has 192.168.64.5/24" "$out" "inet 192.168.64.5/24"
check_contains "the default route goes via the gateway" "$out" "default via 192.168.64.1 dev eth0"
check_contains "the MTU is the interface's (1400)" "$out" $'---\n1400'
check_contains "the gateway answers ping" "$out" "PING-OK"
check_contains "a server on the gateway answers HTTP" "$out" "gateway-hello"
check_contains "/etc/hosts is setup.network.hosts" "$out" $'---\n127.0.0.1\tlocalhost\n192.168.64.5\tweb1 0123456789ab\n192.168.64.9\tother\n---'
check_contains "/etc/resolv.conf is setup.network.resolv" "$out" $'nameserver 192.168.64.1\nsearch test.internal\noptions ndots:2\n---'
check_contains "the guest has lo and eth0" "$out" $'---\neth0\nlo'
check_eq "the TAP is gone after the container" "" "$(taps)"

# ---- two networks: each NIC found by its MAC, whatever the device order ----
ip -n "$NS" link add ctr1 type bridge &&
    ip -n "$NS" addr add 10.89.0.1/24 dev ctr1 &&
    ip -n "$NS" link set ctr1 up || need "second bridge failed"
mkb two $(printf '5%.0s' {1..64}) -- sh -c '
    for d in /sys/class/net/eth*; do echo "$(cat $d/address) $(ip -4 -o addr show dev ${d##*/} | grep -o "inet [0-9./]*")"; done
    ip route | grep default
    ping -c 1 -W 10 10.89.0.1 >/dev/null && echo PING1-OK
    ping -c 1 -W 10 '$GW' >/dev/null && echo PING0-OK' || need "ctr-prepare bundle failed"
jqi '.networks = [{tap: "ctap55555555550", bridge: "ctr1", mac: "02:42:0a:59:00:02"},
                  {tap: "ctap55555555551", bridge: "ctr0", mac: "02:42:c0:a8:40:0a"}]
     | .setup.network.interfaces = [{mac: "02:42:c0:a8:40:0a", address: "192.168.64.10/24", gateway: $gw},
                                    {mac: "02:42:0a:59:00:02", address: "10.89.0.2/24"}]' --arg gw "$GW"
rc=0
timeout -k 5 180 ip netns exec "$NS" "$RT" run "$b" >"$b.out" 2>"$b.err" </dev/null || rc=$?
out=$(cat "$b.out")
check_eq "a container on two networks runs" 0 "$rc"
check_contains "the NIC with the first network's MAC has its address" "$out" "02:42:0a:59:00:02 inet 10.89.0.2/24"
check_contains "the NIC with the second network's MAC has its address" "$out" "02:42:c0:a8:40:0a inet 192.168.64.10/24"
check_contains "one default route, via the interface that has the gateway" "$out" "default via 192.168.64.1"
check_contains "both gateways answer" "$out" $'PING1-OK\nPING0-OK'

# ---- 2: published ports, detached ----
ID2=$(printf 'fedcba9876543210%.0s' 1 2 3 4)
TAP2=ctapfedcba98760
mkb ports $ID2 -- sh -c 'mkdir -p /www; echo container-hello >/www/index.html
    /t/ctr-udp-echo 5353 & exec httpd -f -p 80 -h /www' || need "ctr-prepare bundle failed"
net 192.168.64.6 02:42:c0:a8:40:06 $TAP2
jqi '.shares = [{tag: "t", path: $dir, readonly: true}]
     | .setup.mounts += [{source: "t", target: "/t", fstype: "9p", options: "trans=virtio,version=9p2000.L,ro"}]
     | .ports = [{proto: "tcp", host_ip: "127.0.0.1", host_port: 8080, container_ip: "192.168.64.6", container_port: 80},
                 {proto: "udp", host_ip: "127.0.0.1", host_port: 5353, container_ip: "192.168.64.6", container_port: 5353}]' \
    --arg dir "$T_TMP/share"
b2=$b
at_exit "ip netns exec '$NS' '$RT' stop '$b2' -t 0"
rc=0
timeout -k 5 180 ip netns exec "$NS" "$RT" start "$b2" >"$b2.out" 2>&1 || rc=$?
check_eq "a container with published ports starts detached" 0 "$rc"
[ "$rc" = 0 ] || diag "$(cat "$b2.out")" "$(tail -20 "$b2/boot.log" 2>/dev/null)"
check_contains "its TAP is on the bridge while it runs" "$(ip -n "$NS" -o link show master ctr0)" "$TAP2"
check_eq "TCP 127.0.0.1:8080 reaches httpd in the container" "container-hello" \
    "$(inns curl -s --max-time 30 http://127.0.0.1:8080/index.html)"
# several connections at once, each relayed on its own
par=$(for i in 1 2 3 4; do inns curl -s --max-time 30 http://127.0.0.1:8080/index.html & done; wait)
check_eq "four concurrent connections all answered" "$(printf 'container-hello\n%.0s' 1 2 3 4)" "$par"
udp=""
for i in $(seq 1 15); do
    udp=$(inns timeout 2 bash -c 'exec 3<>/dev/udp/127.0.0.1/5353; printf ping-udp >&3; head -c 13 <&3' 2>/dev/null) && break
done
check_eq "UDP 127.0.0.1:5353 is answered by the container" "echo:ping-udp" "$udp"
check_contains "the proxy listens on 127.0.0.1:8080/tcp" "$(inns ss -Hltn)" "127.0.0.1:8080"

# ---- refusals: exit 125 before anything boots, nothing left behind ----
mkb busy $(printf '1%.0s' {1..64}) -- true || need "ctr-prepare bundle failed"
net 192.168.64.7 02:42:c0:a8:40:07 ctap11111111110
jqi '.ports = [{proto: "tcp", host_ip: "127.0.0.1", host_port: 8080, container_ip: "192.168.64.7", container_port: 80}]'
rc=0
timeout -k 5 60 ip netns exec "$NS" "$RT" run "$b" >"$b.out" 2>"$b.err" </dev/null || rc=$?
check_eq "a port already in use is refused with 125" 125 "$rc"
check_contains "naming it" "$(cat "$b.err")" "port 127.0.0.1:8080/tcp is already in use"
check_eq "and its TAP was removed again" "$TAP2 " "$(taps)"

mkb nobridge $(printf '2%.0s' {1..64}) -- true || need "ctr-prepare bundle failed"
net 192.168.64.8 02:42:c0:a8:40:08 ctap22222222220
jqi '.networks[0].bridge = "nobr0"'
rc=0
timeout -k 5 60 ip netns exec "$NS" "$RT" run "$b" >"$b.out" 2>"$b.err" </dev/null || rc=$?
check_eq "a missing bridge is refused with 125" 125 "$rc"
check_contains "naming it" "$(cat "$b.err")" "network bridge nobr0 does not exist"

mkb many $(printf '3%.0s' {1..64}) -- true || need "ctr-prepare bundle failed"
jqi '.networks = [range(7) | {tap: "ctap3333333333\(.)", bridge: "ctr0", mac: "02:42:00:00:00:0\(. + 1)"}]'
rc=0
timeout -k 5 60 ip netns exec "$NS" "$RT" run "$b" >"$b.out" 2>"$b.err" </dev/null || rc=$?
check_eq "more NICs than free virtio devices are refused with 125" 125 "$rc"
check_contains "saying why" "$(cat "$b.err")" "7 network interfaces need more than the 8 virtio devices"
check_eq "none of their TAPs remains" "$TAP2 " "$(taps)"

# ---- stopping releases the TAP and the ports ----
rc=0
timeout -k 5 60 ip netns exec "$NS" "$RT" stop "$b2" -t 1 >/dev/null 2>&1 || rc=$?
check_eq "the detached container stops" 0 "$rc"
check_eq "its TAP is gone" "" "$(taps)"
check_eq "nothing listens on its ports any more" "" "$(inns ss -Hltnu | grep -E ':(8080|5353) ' || true)"

# ---- no networks: loopback only ----
mkb none $(printf '4%.0s' {1..64}) -- sh -c 'ls /sys/class/net; ip link show lo | grep -q "<LOOPBACK,UP" && echo UP
    ping -c 1 -W 5 127.0.0.1 >/dev/null && echo LO-OK' || need "ctr-prepare bundle failed"
rc=0
timeout -k 5 180 ip netns exec "$NS" "$RT" run "$b" >"$b.out" 2>"$b.err" </dev/null || rc=$?
out=$(cat "$b.out")
check_eq "a container without networks runs" 0 "$rc"
check_eq "and has only lo, up, answering ping" $'lo\nUP\nLO-OK' "$out"

plan_end
