# Helpers for the networking end-to-end test (80-network.sh; sourced, not run).
# Topology, all in namespaces the test makes (nothing in the host's):
#   DAEMON_NS  the daemon, its bridges, TAPs, nft table and DNS servers; the "host"
#              of the containers (a service on the gateway address, curl on loopback)
#   OUT_NS     "the outside world": a veth pair vd (10.200.0.1, DAEMON_NS) -- vo
#              (10.200.0.2, OUT_NS), DAEMON_NS's default route; a TCP server telling
#              each client its source address, and a DNS server for `outside.test`
OUT_IP=10.200.0.1 # the daemon namespace's side: containers leave NAT'd to it
OUT_PEER=10.200.0.2

# net_topology: OUT_NS, the veth pair, the outside TCP and DNS servers, and the
# upstream resolv.conf the daemon's DNS servers forward to (the outside one).
net_topology() {
    netns_add OUT_NS out || need "cannot create a network namespace"
    ip -n "$DAEMON_NS" link add vd type veth peer name vo netns "$OUT_NS" &&
        ip -n "$DAEMON_NS" addr add "$OUT_IP/24" dev vd && ip -n "$DAEMON_NS" link set vd up &&
        ip -n "$OUT_NS" addr add "$OUT_PEER/24" dev vo && ip -n "$OUT_NS" link set vo up &&
        ip -n "$DAEMON_NS" route add default via "$OUT_PEER" || need "cannot make the veth pair"
    cat >"$T_TMP/whoami.py" <<'EOF'
# whoami.py IP PORT TAG: each TCP client gets "TAG peer=ITS_SOURCE_ADDRESS"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
while True:
    c, a = s.accept()
    try:
        c.sendall(("%s peer=%s\n" % (sys.argv[3], a[0])).encode())
    finally:
        c.close()
EOF
    cat >"$T_TMP/dns.py" <<'EOF'
# dns.py IP: answers A outside.test -> IP, NXDOMAIN for every other name (UDP)
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    d, a = s.recvfrom(512)
    if len(d) < 17:
        continue
    end = 12 + d[12:].index(b"\0") + 5
    q = d[12:end]
    labels, i = [], 0
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace").lower()); i += 1 + q[i]
    hit = ".".join(labels) == "outside.test" and q[-4:-2] == b"\0\1"
    hdr = d[:2] + (b"\x81\x80" if hit else b"\x81\x83") + struct.pack(">HHHH", 1, 1 if hit else 0, 0, 0)
    ans = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(sys.argv[1]) if hit else b""
    s.sendto(hdr + q + ans, a)
EOF
    ns_spawn "$OUT_NS" "$T_TMP/whoami.log" python3 "$T_TMP/whoami.py" "$OUT_PEER" 8000 outside >/dev/null
    ns_spawn "$OUT_NS" "$T_TMP/dns.log" python3 "$T_TMP/dns.py" "$OUT_PEER" >/dev/null
    echo "nameserver $OUT_PEER" >"$CONTAINER_DNS_UPSTREAM"
    wait_for 10 ip netns exec "$OUT_NS" python3 -c "import socket; socket.create_connection(('$OUT_PEER', 8000), 1)" ||
        need "the outside server did not start: $(cat "$T_TMP/whoami.log")"
}

# ns_spawn NS LOG CMD...: run CMD in namespace NS in the background, detached from this
# shell (daemon_cleanup's `wait` must not wait for a server that never ends); prints its
# pid. netns_del ends it at exit with the namespace.
ns_spawn() {
    local ns=$1 log=$2
    shift 2
    (ip netns exec "$ns" "$@" >"$log" 2>&1 </dev/null & echo $!)
}

# dk ARGS...: the docker CLI against our socket with a deadline; sets out (stdout and
# stderr) and rc.
dk() {
    out=$(timeout -k 5 240 docker "$@" 2>&1)
    rc=$?
}

# ns_links NS: the interface names of a namespace, one per line.
ns_links() { ip -n "$1" -j link | jq -r '.[].ifname'; }

# udp_echo PORT MSG: send MSG to 127.0.0.1:PORT/udp from the daemon's namespace and
# print the answer (nothing after 5 s without one).
udp_echo() {
    in_ns python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(sys.argv[2].encode(), ("127.0.0.1", int(sys.argv[1])))
try: print(s.recv(2048).decode())
except socket.timeout: pass' "$1" "$2"
}
