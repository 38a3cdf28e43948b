#!/usr/bin/env bash
# The CLI's networking against a real daemon (started by `system start` inside a network
# namespace of this test, so its bridges, nft table and DNS servers stay there): `network
# create/ls/inspect/rm/prune/connect/disconnect`, run/create network flags as the daemon
# stores them, `container port`, the ADDR and PORTS columns of `container ls`, and a
# published port answering curl (one VM, busybox httpd). docs/cli.md. The daemon-side
# end to end (names, NAT, isolation, restarts, docker CLI) is 80-network.sh.
source "$(dirname "$0")/../lib.sh"
plan_start
source "$(dirname "$0")/45-cli-lib.bash"
cli_fixtures
command -v curl >/dev/null || need "curl missing (apt-get install curl)"
in_ns() { ip netns exec "$CLI_NS" "$@"; }

cli_system_start
ctr image load -i "$T_TMP/busybox.tar"
check_eq "image load" 0 "$rc"

# ---- networks ----
ctr network ls
check_eq "network ls: the table's header" \
    "NETWORK ID     NAME      DRIVER   SUBNET            GATEWAY        INTERNAL" "$(head -1 <<<"$out")"
check_contains "network ls: the default network with its subnet" "$out" "default   bridge   192.168.64.0/24   192.168.64.1   false"

ctr network create --subnet 10.77.0.0/24 --label team=web -l tier front
check_eq "network create prints a 64-hex id" "0 1" "$rc $(grep -cE '^[0-9a-f]{64}$' <<<"$out")"
FRONT_ID=$out
ctr network create --internal back
check_eq "network create --internal (subnet picked by the daemon)" 0 "$rc"
ctr network ls -q
check_eq "network ls -q: 12-char ids, front's among them" "3 1" \
    "$(wc -l <<<"$out") $(grep -cx "${FRONT_ID:0:12}" <<<"$out")"
ctr network ls --format json
check_eq "network ls --format json: docker's objects" "back default front" \
    "$(jq -r '[.[].Name] | sort | join(" ")' <<<"$out")"
check_eq "  back is internal, with a subnet" "true 1" \
    "$(jq -r '.[] | select(.Name == "back") | "\(.Internal) \(.IPAM.Config | length)"' <<<"$out")"
ctr network ls -q -f label=team=web
check_eq "network ls --filter label=team=web: front only" "${FRONT_ID:0:12}" "$out"
ctr network ls -f bogus=1
check_eq "an unknown filter is refused by the daemon" 1 "$rc"
ctr network inspect front
check_eq "network inspect: subnet, labels, driver" "10.77.0.0/24 web  bridge false" \
    "$(jq -r '.[0] | "\(.IPAM.Config[0].Subnet) \(.Labels.team) \(.Labels.tier) \(.Driver) \(.Internal)"' <<<"$out")"
ctr network inspect front nosuch
check_eq "network inspect with a missing one: exit 1, the others printed" "1 front" \
    "$rc $(jq -r '[.[].Name] | join(" ")' <<<"$out")"
check_contains "  the missing one named" "$err" "network inspect \`nosuch\`"
ctr network create --subnet 10.77.0.128/25 other
check_contains "an overlapping subnet is refused, naming the other network" "$rc $err" "front"
check_eq "  exit 1" 1 "$rc"
ctr network create front
check_eq "a taken name is refused" 1 "$rc"
check_contains "  saying so" "$err" "front"
ctr network create --subnet 10.77.0.0 x
check_contains "a subnet without prefix is refused by the CLI" "$rc $err" "1 container: invalid value \`10.77.0.0\` for \`--subnet\`"
ctr network rm default
check_eq "the default network cannot be removed" 1 "$rc"

# ---- run/create flags as stored ----
ctr create --name web --network front --network-alias www -p 127.0.0.1:18080:80 \
    -p 127.0.0.1::81/udp --dns 10.77.0.53 --dns-search corp.test --dns-option ndots:3 \
    --add-host db:10.77.0.99 --add-host gw:host-gateway busybox \
    sh -c 'mkdir -p /www && echo hello-web >/www/index.html && exec httpd -f -p 80 -h /www'
check_eq "create with network flags" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$err"
ctr inspect web
check_eq "NetworkMode, aliases" "front www" \
    "$(jq -r '.[0] | "\(.HostConfig.NetworkMode) \(.NetworkSettings.Networks.front.Aliases // [] | map(select(. == "www")) | join(","))"' <<<"$out")"
check_eq "HostConfig.PortBindings as given (an empty HostPort stays empty there)" "18080 127.0.0.1 ''" \
    "$(jq -r '.[0].HostConfig.PortBindings | "\(.["80/tcp"][0].HostPort) \(.["81/udp"][0].HostIp) '"'"'\(.["81/udp"][0].HostPort)'"'"'"' <<<"$out")"
check_eq "Dns, DnsSearch, DnsOptions, ExtraHosts" "10.77.0.53 corp.test ndots:3 db:10.77.0.99,gw:host-gateway" \
    "$(jq -r '.[0].HostConfig | "\(.Dns | join(",")) \(.DnsSearch | join(",")) \(.DnsOptions | join(",")) \(.ExtraHosts | join(","))"' <<<"$out")"
ctr network rm front
check_eq "network rm of a network in use: refused" 1 "$rc"
check_contains "  naming the container" "$err" "web"

ctr network connect --alias api back web
check_eq "network connect (stopped container)" 0 "$rc"
ctr inspect web
check_eq "  inspect shows both networks" "back front" \
    "$(jq -r '.[0].NetworkSettings.Networks | keys | join(" ")' <<<"$out")"
ctr network disconnect back web
check_eq "network disconnect" 0 "$rc"
ctr inspect web
check_eq "  back is gone" "front" "$(jq -r '.[0].NetworkSettings.Networks | keys | join(" ")' <<<"$out")"
ctr network disconnect back web
check_eq "disconnecting again fails" 1 "$rc"

ctr create --name iso --network none busybox true
check_eq "create --network none" 0 "$rc"
ctr inspect iso
check_eq "  NetworkMode none, no network" "none 0" \
    "$(jq -r '.[0] | "\(.HostConfig.NetworkMode) \(.NetworkSettings.Networks // {} | del(.none) | length)"' <<<"$out")"
ctr create --network none -p 80 busybox true
check_contains "-p with --network none: refused before anything is made" "$rc $err" "125 container: \`-p\` needs a network"
ctr create -p 70000:80 busybox true
check_contains "a bad -p echoes the flag" "$rc $err" "125 container: invalid --publish \`70000:80\`: host port \`70000\`"

# ---- a running container: port, ls, curl ----
ctr start web
check_eq "start web" 0 "$rc"
[ "$rc" -eq 0 ] || diag "$err" "$(tail -20 "$run"/*.log 2>/dev/null)"
wait_for 60 sh -c "[ \"\$($C ls --format json | jq -r '.[] | select(.name == \"web\") | .state')\" = running ]"
ctr port web
UDP_PORT=$(sed -n 's#^81/udp -> 127.0.0.1:##p' <<<"$out")
check_eq "container port: docker's lines" "80/tcp -> 127.0.0.1:18080
81/udp -> 127.0.0.1:$UDP_PORT" "$out"
[[ "$UDP_PORT" =~ ^[0-9]+$ ]] && ok "  the empty host port got a free one ($UDP_PORT)" || not_ok "  picked port \`$UDP_PORT\`"
ctr port web 80
check_eq "container port web 80" "0 127.0.0.1:18080" "$rc $out"
ctr port web 82/tcp
check_eq "container port of an unpublished port: exit 1" "1 container: no public port \`82/tcp\` published for \`web\`" "$rc $err"
ctr port web 80/sctp
check_contains "a bad port argument" "$rc $err" "1 container: invalid port \`80/sctp\`"
ctr ls
WEB_IP=$(jq -r '.[0].NetworkSettings.Networks.front.IPAddress' <<<"$($C inspect web)")
check_contains "the address is on front's subnet" "$WEB_IP" "10.77.0."
check_contains "container ls: ADDR and PORTS" "$(grep ' web$' <<<"$out")" "$WEB_IP   127.0.0.1:18080->80/tcp, 127.0.0.1:$UDP_PORT->81/udp"
ctr ls --format json
check_eq "container ls --format json: addr" "$WEB_IP" "$(jq -r '.[] | select(.name == "web") | .addr' <<<"$out")"
wait_for 60 in_ns curl -sf -m 5 -o /dev/null http://127.0.0.1:18080/
check_eq "the published port answers curl (busybox httpd)" "hello-web" "$(in_ns curl -s -m 10 http://127.0.0.1:18080/)"
ctr network connect default web
check_eq "network connect of a running container (live)" 0 "$rc"
check_contains "  it is on the default network too" \
    "$($C inspect web | jq -r '.[0].NetworkSettings.Networks | keys | join(" ")')" "bridge"

# ---- cleanup through the CLI ----
ctr rm -f web iso
check_eq "rm the containers" 0 "$rc"
ctr network rm front nosuch
check_eq "network rm: front removed, nosuch reported, exit 1" "1 front" "$rc $out"
ctr network rm -f nosuch
check_eq "network rm -f of a missing network: exit 0" 0 "$rc"
ctr network prune -f
check_eq "network prune removes back" "0 Deleted Networks:
back" "$rc $out"
ctr network ls --format json
check_eq "only the default network remains" "default" "$(jq -r '[.[].Name] | join(" ")' <<<"$out")"
plan_end
