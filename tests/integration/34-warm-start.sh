#!/usr/bin/env bash
# Warm start (docs/runtime.md "Warm start"): container-runtime restores a template VM
# of the bundle's shape instead of booting, makes the template on first use, and boots
# cold when the template is bad or CONTAINER_WARM_START=0. Templates go to a private
# CONTAINER_TEMPLATE_DIR here. At most two VMs at once.
source "$(dirname "$0")/../lib.sh"
plan_start

source "$(dirname "$0")/30-runtime-lib.bash"
runtime_fixtures "$BIN/ctr-prepare"
DATA=$T_TMP/data
check "load the busybox image into a store" "$PREP" load --root "$DATA" "$T_TMP/oci" --name busybox

export CONTAINER_TEMPLATE_DIR=$T_TMP/templates
export CONTAINER_RUNTIME_TRACE=1
unset CONTAINER_WARM_START

# mk NAME [ctr-prepare bundle flags] -- [CMD...]: a bundle of the busybox image.
mk() {
    local b=$T_TMP/b-$1 flags=()
    shift
    while [ "$1" != -- ]; do flags+=("$1"); shift; done
    shift
    "$PREP" bundle --root "$DATA" --kernel "$kernel" --initrd "$initrd" -m 256m -c 1 \
        "${flags[@]+"${flags[@]}"}" "$b" busybox "$@" >"$b.prep" 2>&1 ||
        { diag "ctr-prepare: $(cat "$b.prep")"; return 1; }
}
# run NAME: runs bundle b-NAME; sets out, err, rc.
run() {
    local b=$T_TMP/b-$1
    rc=0
    timeout -k 5 120 "$RT" run "$b" >"$b.out" 2>"$b.err" </dev/null || rc=$?
    out=$(cat "$b.out")
    err=$(cat "$b.err")
}
templates() { find "$CONTAINER_TEMPLATE_DIR" -mindepth 2 -maxdepth 2 -name state 2>/dev/null | wc -l; }

# ---- first run makes the template, later runs restore it ----
mk first -- echo hello
run first
check_eq "first run prints hello" "hello" "$out"
check_eq "and exits 0" "0" "$rc"
check_contains "the first run made the template" "$err" "warm-start template made in"
check_contains "and then restored it" "$err" "warm start (template"
check_eq "one template on disk" "1" "$(templates)"
tdir=$(dirname "$(find "$CONTAINER_TEMPLATE_DIR" -mindepth 2 -maxdepth 2 -name state)")
check_contains "the bundle's boot log has the template's boot" "$(cat "$T_TMP/b-first/boot.log")" \
    "warm start: the VM above was saved"

mk second -- echo hello
run second
check_eq "a warm run prints hello" "hello" "$out"
check_eq "and exits 0" "0" "$rc"
check_contains "it was restored" "$err" "warm start (template"
if grep -q "template made" <<<"$err"; then not_ok "no template made again"; else ok "no template made again"; fi

mk exit7 -- sh -c 'exit 7'
run exit7
check_eq "warm: sh -c 'exit 7' exits 7" "7" "$rc"
mk kill9 -- sh -c 'sh -c "kill -9 \$\$"; exit $?'
run kill9
check_eq "warm: a child's kill -9 \$\$ exits 137 (PID 1 would ignore it, as under Docker)" "137" "$rc"
mk missing -- /no/such/thing
run missing
check_eq "warm: a missing executable exits 127" "127" "$rc"

mk stdin -i -- cat
rc=0
echo abc | timeout -k 5 120 "$RT" run "$T_TMP/b-stdin" >"$T_TMP/stdin.out" 2>"$T_TMP/stdin.err" || rc=$?
check_eq "warm: stdin reaches the process" "abc" "$(cat "$T_TMP/stdin.out")"
check_eq "and exits 0" "0" "$rc"
check_contains "(restored)" "$(cat "$T_TMP/stdin.err")" "warm start (template"

# ---- the guest sees the real disks: sizes, contents, writes kept ----
mk disks -- sh -c 'for d in /sys/block/vd*; do echo "$(cat $d/serial) $(cat $d/size) $(cat $d/ro)"; done | sort'
run disks
b=$T_TMP/b-disks
img=$(jq -r '.disks[] | select(.serial == "image") | .path' "$b/config.json")
rw=$(jq -r '.disks[] | select(.serial == "rw") | .path' "$b/config.json")
check_eq "each disk's capacity, serial and read-only flag are the real ones" \
    "image $(($(stat -c %s "$img") / 512)) 1
rw $(($(stat -c %s "$rw") / 512)) 0" "$out"

mk persist -- sh -c 'cat /kept 2>/dev/null || echo none; echo "written warm" >/kept; sync'
run persist
check_eq "a warm container's root starts empty" "none" "$out"
run persist
check_eq "what it wrote is there in the next run of the bundle" "written warm" "$out"

# ---- a 9p share (tag v0) on a template of the same shape ----
mkdir -p "$T_TMP/share"
echo "from the host" >"$T_TMP/share/in"
mk share -- sh -c 'cat /mnt/in; echo "from the guest" >/mnt/out'
jq --arg p "$T_TMP/share" '.shares = [{tag: "v0", path: $p, readonly: false}] |
    .setup.mounts += [{source: "v0", target: "/mnt", fstype: "9p",
                       options: "trans=virtio,version=9p2000.L,msize=512000,cache=mmap"}]' \
    "$T_TMP/b-share/config.json" >"$T_TMP/share.json" && mv "$T_TMP/share.json" "$T_TMP/b-share/config.json"
run share
check_eq "warm: a shared directory is readable" "from the host" "$out"
check_eq "and writable" "from the guest" "$(cat "$T_TMP/share/out" 2>/dev/null)"
check_contains "(restored from its own template)" "$err" "warm-start template made in"
check_eq "two templates now (another shape)" "2" "$(templates)"

# ---- a NIC (TAP on a bridge in a namespace of our own): the template has a placeholder
# TAP and MAC; the clone gets the container's MAC and reaches the gateway ----
if netns_add NS warm && ip -n "$NS" link add ctr0 type bridge &&
    ip -n "$NS" addr add 192.168.77.1/24 dev ctr0 && ip -n "$NS" link set ctr0 up; then
    for n in 1 2; do
        mk nic$n -- sh -c 'cat /sys/class/net/eth0/address; ping -c 1 -W 10 192.168.77.1 >/dev/null && echo PING-OK'
        jq --arg mac "02:42:c0:a8:4d:0$n" --arg tap "ctapwarm$n" --arg ip "192.168.77.1$n/24" \
            '.networks = [{tap: $tap, bridge: "ctr0", mac: $mac, mtu: 1500}]
             | .setup.network.interfaces = [{mac: $mac, address: $ip, gateway: "192.168.77.1", mtu: 1500}]' \
            "$T_TMP/b-nic$n/config.json" >"$T_TMP/nic.json" && mv "$T_TMP/nic.json" "$T_TMP/b-nic$n/config.json"
        rc=0
        timeout -k 5 120 ip netns exec "$NS" "$RT" run "$T_TMP/b-nic$n" >"$T_TMP/nic$n.out" 2>"$T_TMP/nic$n.err" </dev/null || rc=$?
        check_eq "NIC container $n: its MAC, and the gateway answers" "02:42:c0:a8:4d:0$n
PING-OK" "$(cat "$T_TMP/nic$n.out")"
        check_eq "and exits 0" "0" "$rc"
        check_contains "(restored)" "$(cat "$T_TMP/nic$n.err")" "warm start (template"
    done
    check_contains "the second NIC container used the first one's template" "$(cat "$T_TMP/nic2.err")" "warm start (template"
    if grep -q "template made" "$T_TMP/nic2.err"; then not_ok "(no template made for it)"; else ok "(no template made for it)"; fi
else
    not_ok "bridge set-up in a network namespace failed (root needed)"
fi

# ---- two warm containers at once: own random state, right clock ----
rand='head -c 16 /dev/urandom | od -An -tx1 | tr -d " \n"; echo; cat /proc/sys/kernel/random/boot_id; date +%s'
mk r1 -- sh -c "$rand"
mk r2 -- sh -c "$rand"
# The template's clock stopped when it was saved: make sure it is well behind.
age=$(($(date +%s) - $(stat -c %Y "$tdir/state")))
[ "$age" -ge 5 ] || sleep $((5 - age))
t0=$(date +%s)
timeout -k 5 120 "$RT" run "$T_TMP/b-r1" >"$T_TMP/r1.out" 2>"$T_TMP/r1.err" </dev/null &
p1=$!
timeout -k 5 120 "$RT" run "$T_TMP/b-r2" >"$T_TMP/r2.out" 2>"$T_TMP/r2.err" </dev/null &
p2=$!
wait $p1; rc1=$?
wait $p2; rc2=$?
t1=$(date +%s)
check_eq "both exit 0" "0 0" "$rc1 $rc2"
check_contains "the first was restored" "$(cat "$T_TMP/r1.err")" "warm start (template"
check_contains "the second was restored" "$(cat "$T_TMP/r2.err")" "warm start (template"
r1=$(sed -n 1p "$T_TMP/r1.out")
r2=$(sed -n 1p "$T_TMP/r2.out")
check_eq "random bytes read" "32 32" "${#r1} ${#r2}"
if [ "$r1" != "$r2" ]; then ok "two clones read different random bytes"; else not_ok "two clones read the same random bytes: $r1"; fi
for n in 1 2; do
    g=$(sed -n 3p "$T_TMP/r$n.out")
    if [ -n "$g" ] && [ "$g" -ge "$((t0 - 2))" ] && [ "$g" -le "$((t1 + 2))" ]; then
        ok "clone $n's clock is the host's ($g in [$t0, $t1])"
    else
        not_ok "clone $n's clock is the host's: got \`$g\`, host [$t0, $t1]"
    fi
done

# ---- fallbacks: a bad template costs a cold boot, never the container ----
state=$tdir/state
size=$(stat -c %s "$state")
# keep the magic, destroy the middle of the stream
dd if=/dev/urandom of="$state" bs=4096 seek=$((size / 8192)) count=64 conv=notrunc status=none
# what a shim killed while making a template leaves (its pid is gone)
true &
dead=$!
wait $dead
stale=$CONTAINER_TEMPLATE_DIR/$(printf 'a%.0s' $(seq 64)).tmp.$dead
mkdir -p "$stale"
mk corrupt -- echo hello
run corrupt
check_eq "corrupt template: the container still prints hello" "hello" "$out"
check_eq "and exits 0" "0" "$rc"
check_contains "the shim booted cold" "$err" "cold boot (restore failed)"
check_contains "and said why" "$err" "warm start from"
run corrupt
check_contains "the next run makes a new template" "$err" "warm-start template made in"
if [ -e "$stale" ]; then not_ok "a dead shim's half-made template is removed"; else ok "a dead shim's half-made template is removed"; fi
check_eq "and prints hello" "hello" "$out"

printf 'garbage' >"$state"
run corrupt
check_contains "a file that is no migration stream is made again" "$err" "not a QEMU migration stream"
check_eq "and the container prints hello" "hello" "$out"

CONTAINER_WARM_START=0 run corrupt
check_contains "CONTAINER_WARM_START=0 boots cold" "$err" "cold boot (CONTAINER_WARM_START=0)"
check_eq "and prints hello" "hello" "$out"

ro_dir=$T_TMP/ro-templates
mkdir -p "$ro_dir"
touch "$ro_dir/x"
CONTAINER_TEMPLATE_DIR=$ro_dir/x/y run corrupt
check_contains "an unusable template directory boots cold" "$err" "cold boot ("
check_contains "naming it" "$err" "$ro_dir/x/y"
check_eq "and prints hello" "hello" "$out"

plan_end
