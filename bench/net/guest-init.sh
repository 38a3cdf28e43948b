#!/bin/sh
# PID 1 of bench/net's bare QEMU guest (the baseline beside a container): configures
# eth0 from the kernel command line, then either serves (iperf3 -s and busybox httpd on
# :80, forever) or runs one iperf3 client against a peer, prints its JSON between
# markers on the console and reboots (QEMU runs with -no-reboot, so it exits).
#   bench.ip=ADDR/PREFIX bench.gw=GATEWAY bench.role=server
#   bench.ip=ADDR/PREFIX bench.gw=GATEWAY bench.role=client bench.peer=ADDR bench.secs=N
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
arg() {
    for w in $(cat /proc/cmdline); do
        case $w in "bench.$1="*) echo "${w#*=}" ;; esac
    done
}
die() {
    echo "bench-init: error: $*"
    busybox reboot -f
    echo b >/proc/sysrq-trigger
}
ip link set lo up
ip link set eth0 up || die "no eth0"
ip addr add "$(arg ip)" dev eth0 || die "bad bench.ip"
ip route add default via "$(arg gw)" || die "bad bench.gw"
case $(arg role) in
server)
    iperf3 -s -D || die "iperf3 -s failed"
    busybox httpd -p 80 -h /www || die "httpd failed"
    echo "bench-init: ready"
    while :; do sleep 3600; done
    ;;
client)
    peer=$(arg peer)
    i=0
    until iperf3 -c "$peer" -t 1 >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -gt 120 ] && die "iperf3 server $peer unreachable"
        sleep 1
    done
    echo "bench-init: iperf3-begin"
    iperf3 -c "$peer" -t "$(arg secs)" -J
    echo "bench-init: iperf3-end"
    busybox reboot -f
    echo b >/proc/sysrq-trigger
    ;;
*) die "bench.role must be server or client" ;;
esac
