#!/usr/bin/env bash
# bench/io: file I/O inside a container against the host's own figure, in one run.
# Starts its own container-apiserver on temp data/run roots (as the CLI integration
# tests do, busybox image from scripts/make-busybox-image.sh) and measures, for
#   - the container's root filesystem (overlay on the writable ext4 disk, virtio-blk),
#   - a bind mount (-v HOSTDIR:/b, virtio-9p),
#   - a named volume (-v iobench:/v, virtio-9p),
#   - the host itself, in a directory beside the bind mount's (same disk),
# sequential write (dd 64 MiB conv=fsync), sequential read (dd of that file, read in
# a later VM / after the host dropped the file's pages) and small-file creation (500
# files by a shell loop, then sync). The commands are bench/io/io.sh, run by busybox
# sh on both sides. One VM at a time, -m 256M.
# Usage: bench/io/run.sh [--runs N] [--record]   (--record rewrites the
# "## I/O (bench/io)" section of docs/performance.md)
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=3
RECORD=0
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --record) RECORD=1; shift ;;
    *) echo "usage: $0 [--runs N] [--record]" >&2; exit 2 ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench/io: --runs must be a positive integer, not \`$RUNS\`" >&2; exit 2; }
source "$TOP/tests/lib.sh"
source "$TOP/tests/integration/45-cli-lib.bash"
die() { echo "bench/io: $*" >&2; exit 1; }
need() { die "$1"; } # a benchmark does not skip
# Run a private copy of the binaries: others may rebuild build/ while this runs.
mkdir -p "$T_TMP/bin"
for i in 1 2 3 4 5 6; do
    cp "$BIN"/container* "$BIN"/vminitd "$T_TMP/bin/" 2>/dev/null && break
    [ $i = 6 ] && die "cannot copy the binaries from $BIN (run make)"
    sleep 10
done
BIN=$T_TMP/bin
for tool in busybox fincore python3; do
    command -v "$tool" >/dev/null || die "missing \`$tool\` (apt-get install busybox-static util-linux python3)"
done
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench/io: preparing fixtures (kernel, initramfs, busybox image)" >&2
cli_fixtures
MB=64

ctr system start --root "$root" --run-root "$run" --kernel "$kernel" --initrd "$initrd"
[ "$rc" -eq 0 ] || die "system start failed: $err"
at_exit "timeout 60 $C system stop --containers --timeout 30"
at_exit "p=\$(cat $run/container-apiserver.pid) && grep -q '^container-apis' /proc/\$p/comm && kill -9 \$p"
ctr image load -i "$T_TMP/busybox.tar"
[ "$rc" -eq 0 ] || die "image load failed: $err"
ctr volume create iobench
[ "$rc" -eq 0 ] || die "volume create failed: $err"

bind=$T_TMP/bind   # bind mount source; the host figure runs in $bind/host-N
scripts=$T_TMP/s   # io.sh and the phase script, shared read-only at /s
mkdir -p "$bind" "$scripts"
cp "$TOP/bench/io/io.sh" "$scripts/io.sh"
accel_file=$T_TMP/accel
poller=
at_exit '[ -n "$poller" ] && kill $poller'

# evict FILE...: write back, then drop the files' pages from the host page cache
# (posix_fadvise DONTNEED through dd), so a read comes from the disk.
evict() {
    local f
    for f in "$@"; do
        sync "$f"
        dd if="$f" iflag=nocache count=0 status=none
    done
}
# cached FILE: pages of FILE in the host page cache (fincore RES).
cached() { fincore -b -n -o RES "$1" | tr -d " "; }
# val KEY: the number after KEY in $out, one per line per location, in order.
val() { awk -v k="$1" '$1 == k { print $2 }' <<<"$out"; }

declare -A R # R[loc,metric] = space-separated per-run rates
add() { R[$1,$2]="${R[$1,$2]:-} $3"; }
rate() { awk -v n="$1" -v us="$2" 'BEGIN { printf "%.1f", n / (us / 1e6) }'; }
cache_notes=()

for ((r = 1; r <= RUNS; r++)); do
    echo "bench/io: run $r/$RUNS" >&2
    # ---- host ----
    out=$(busybox sh "$scripts/io.sh" write "$bind/host-$r") || die "host write phase failed"
    add host write "$(rate $MB "$(val write_us)")"
    add host files "$(rate 500 "$(val files_us)")"
    evict "$bind/host-$r/rnd"
    hc=$(cached "$bind/host-$r/rnd")
    out=$(busybox sh "$scripts/io.sh" read "$bind/host-$r") || die "host read phase failed"
    add host read "$(rate $MB "$(val read_us)")"
    rm -rf "$bind/host-$r"

    # ---- container: write in one VM, read in the next ----
    name=io$r
    ctr create --name "$name" -m 256M -v "$bind:/b" -v iobench:/v -v "$scripts:/s:ro" busybox sh /s/phase.sh
    [ "$rc" -eq 0 ] || die "create failed: $err"
    for phase in write read; do
        printf 'set -e\nfor d in /var/io-bench /b/ctr-%s /v/ctr-%s; do sh /s/io.sh %s $d; done\n' \
            "$r" "$r" "$phase" >"$scripts/phase.sh"
        if [ ! -s "$accel_file" ]; then
            (for _ in $(seq 600); do
                a=$(ps -eo args | grep "^qemu-system.*$T_TMP" | grep -o -- '-accel [^ ]*' | head -1)
                [ -n "$a" ] && { echo "${a#-accel }" >"$accel_file"; exit 0; }
                sleep 0.1
            done) &
            poller=$!
        fi
        ctr start -a "$name"
        [ "$rc" -eq 0 ] || die "container $phase phase failed (exit $rc): $out $err"
        [ -n "$poller" ] && { kill "$poller" 2>/dev/null; wait "$poller" 2>/dev/null; poller=; }
        if [ $phase = write ]; then
            mapfile -t w < <(val write_us)
            mapfile -t f < <(val files_us)
            [ ${#w[@]} -eq 3 ] && [ ${#f[@]} -eq 3 ] || die "unexpected write output: $out"
            add root write "$(rate $MB "${w[0]}")"
            add bind write "$(rate $MB "${w[1]}")"
            add vol write "$(rate $MB "${w[2]}")"
            add root files "$(rate 500 "${f[0]}")"
            add bind files "$(rate 500 "${f[1]}")"
            add vol files "$(rate 500 "${f[2]}")"
            # The VM is gone, so the guest's page cache is too. Drop the host's pages of
            # what it wrote: the writable disk image (root) and the two shared files.
            volbig=$(find "$root" -path '*/iobench/*' -name rnd -path "*ctr-$r/*" | head -1)
            [ -n "$volbig" ] || die "cannot find the volume's ctr-$r/rnd under $root"
            mapfile -t disks < <(find "$root" "$run" -type f -size +1M -newer "$scripts/phase.sh" \
                ! -path "$bind/*" ! -path '*/volumes/*')
            [ ${#disks[@]} -ge 1 ] || die "cannot find the container's writable disk under $root"
            evict "${disks[@]}" "$bind/ctr-$r/rnd" "$volbig"
            dc=0
            for d in "${disks[@]}"; do dc=$((dc + $(cached "$d"))); done
            cache_notes+=("run $r: before the reads, host page cache held ${hc}B of the host file, ${dc}B of the writable disk image(s), $(cached "$bind/ctr-$r/rnd")B of the bind file, $(cached "$volbig")B of the volume file")
        else
            mapfile -t rd < <(val read_us)
            [ ${#rd[@]} -eq 3 ] || die "unexpected read output: $out"
            add root read "$(rate $MB "${rd[0]}")"
            add bind read "$(rate $MB "${rd[1]}")"
            add vol read "$(rate $MB "${rd[2]}")"
        fi
    done
    ctr rm "$name"
    [ "$rc" -eq 0 ] || die "rm $name failed: $err"
    rm -rf "$bind/ctr-$r" "$volbig"
    rm -rf "$(dirname "$volbig")"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
accel=$(cat "$accel_file" 2>/dev/null)
accel=${accel:-unknown}

med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
declare -A M
for loc in host root bind vol; do
    for m in write read files; do M[$loc,$m]=$(med "${R[$loc,$m]}"); done
done
label() {
    case $1 in
    host) echo "host (same disk)" ;;
    root) echo "container root" ;;
    bind) echo "bind mount (9p)" ;;
    vol) echo "named volume (9p)" ;;
    esac
}
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
table=$(
    echo "bench/io: $RUNS runs each, median; 1 MB = 2^20 bytes; ratio = figure / host's"
    printf '%-20s %11s %7s %11s %7s %14s %7s\n' location "write MB/s" ratio "read MB/s" ratio "create files/s" ratio
    for loc in host root bind vol; do
        printf '%-20s %11s %7s %11s %7s %14s %7s\n' "$(label $loc)" \
            "${M[$loc,write]}" "$(ratio "${M[$loc,write]}" "${M[host,write]}")" \
            "${M[$loc,read]}" "$(ratio "${M[$loc,read]}" "${M[host,read]}")" \
            "${M[$loc,files]}" "$(ratio "${M[$loc,files]}" "${M[host,files]}")"
    done
)
runs=$(for loc in host root bind vol; do
    echo "$(label $loc): write${R[$loc,write]} | read${R[$loc,read]} | files/s${R[$loc,files]}"
done)
echo "$table"
echo "per run:"
echo "$runs"
printf '%s\n' "${cache_notes[@]}"
echo "machine: $cpu, $(nproc) cores; accelerator: $accel; load average $load_start at start, $load_end at end"

if [ "$RECORD" = 1 ]; then
    body=$(
        cat <<MD
Run with \`bench/io/run.sh --record\` (\`--runs N\`, default 3).

Run of $(date -u +%F): $cpu, $(nproc) shared cores, guest under QEMU \`-accel $accel\`
(no usable KVM here), container \`-m 256M\`, one VM at a time; load average
$load_start at start, $load_end at end (other work on the machine).

\`\`\`
$table
\`\`\`

What each row is: **container root** = \`/var/io-bench\` in the container's root
(overlay whose upper layer is on the writable ext4 disk, a sparse file on the
host attached as virtio-blk, host page cache on); **bind mount** = \`-v
HOSTDIR:/b\` and **named volume** = \`-v iobench:/v\`, both virtio-9p with
\`cache=mmap\` (docs/volumes.md); **host** = the same commands run by busybox sh
on the host in a directory beside the bind mount's (same ext4 disk, \`/dev/vda\`).
The commands (\`bench/io/io.sh\`):

- **write**: \`dd if=/dev/zero of=big bs=1M count=64 conv=fsync\`.
- **read**: \`dd if=rnd of=/dev/null bs=1M\`, where \`rnd\` is 64 MiB of
  \`/dev/urandom\` written (untimed) after the write test. Random, not zeros:
  this machine's disk (virtual, \`/dev/vda\`) writes and reads zero blocks faster
  than data (GNU dd on the host, 64 MiB: zeros 535 MB/s vs random 120 MB/s
  written with conv=fsync, 1.2 GB/s vs 685 MB/s read back after dropping the
  pages). The write figures, of zeros as specified, are flattered by this on
  every row that ends on this disk.
- **create**: 500 files by a shell \`while\` loop (\`echo ... >f\$i\`), then
  \`sync -f\` (syncfs of the directory's file system: on the host that is the
  whole shared root disk, with whatever other work left dirty; in the guest
  the container's disk, or nothing to do for 9p, whose \`cache=mmap\` writes
  through).
- Times come from busybox \`adjtimex\` (gettimeofday, 1 us) on both sides, since
  busybox \`date\` has no \`%N\`; each includes one \`adjtimex | awk\` spawn.

Caches: each read is of a file written in an earlier VM (the container is
created once, its write phase runs, it stops, its read phase runs in a fresh VM
via \`start -a\`), so the guest page cache is empty; 9p with \`cache=mmap\` keeps no
guest page cache anyway. On the host the written files are synced and their
pages dropped (\`dd iflag=nocache count=0\`, posix_fadvise DONTNEED) before each
read: the host's own file, the container's writable disk image, the bind file
and the volume file. \`fincore\` afterwards:

\`\`\`
$(printf '%s\n' "${cache_notes[@]}")
\`\`\`

The host's disk is itself a virtual disk of this build machine, so the host
figure is "what this machine's disk does", not bare metal. Under TCG every
guest instruction is emulated: the container columns measure emulation plus
the I/O path; the ratios between the container rows (virtio-blk vs 9p) are the
useful comparison.

Per run (write MB/s | read MB/s | create files/s):

\`\`\`
$runs
\`\`\`
MD
    )
    python3 - "$TOP/docs/performance.md" "$body" <<'PY'
import os, re, sys
path, body = sys.argv[1], sys.argv[2]
text = open(path).read() if os.path.exists(path) else "# Performance\n"
section = "## I/O (bench/io)\n\n" + body.strip() + "\n"
pat = re.compile(r"^## I/O \(bench/io\)\n.*?(?=^## |\Z)", re.S | re.M)
if pat.search(text):
    text = pat.sub(lambda m: section + "\n", text)
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
    echo "recorded in docs/performance.md" >&2
fi
