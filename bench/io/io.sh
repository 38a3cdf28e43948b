# bench/io/io.sh PHASE DIR: the measured commands, run by busybox sh both inside the
# container and on the host (bench/io/run.sh), so both sides run the very same code.
#   write: dd 64 MiB of zeros to DIR/big with conv=fsync; then 500 small files in
#          DIR/small by a shell loop, then `sync -f` (syncfs of DIR's filesystem)
#          and (untimed) DIR/rnd, 64 MiB from /dev/urandom, for the read phase
#   read:  dd DIR/rnd to /dev/null (written by the write phase, in an earlier VM).
#          Random, not zeros: this machine's disk is virtual and reads (and writes)
#          zero blocks faster than data, which would flatter the host's read figure.
# Prints `write_us N`, `files_us N` or `read_us N` (microseconds). The clock is
# busybox adjtimex's read-only query (gettimeofday, 1 us): busybox date has no %N.
# Each figure includes one adjtimex+awk spawn (a few ms under TCG).
set -e
now_us() { adjtimex | awk '/tv_sec/ { s = $2 } /tv_usec/ { u = $2 } END { printf "%d%06d\n", s, u }'; }
phase=$1
dir=$2
case $phase in
write)
    mkdir -p "$dir"
    rm -rf "$dir/big" "$dir/rnd" "$dir/small"
    t0=$(now_us)
    dd if=/dev/zero of="$dir/big" bs=1M count=64 conv=fsync 2>/dev/null
    t1=$(now_us)
    echo "write_us $((t1 - t0))"
    mkdir "$dir/small"
    t0=$(now_us)
    i=0
    while [ $i -lt 500 ]; do
        echo "small file $i" >"$dir/small/f$i"
        i=$((i + 1))
    done
    sync -f "$dir/small"
    t1=$(now_us)
    echo "files_us $((t1 - t0))"
    dd if=/dev/urandom of="$dir/rnd" bs=1M count=64 conv=fsync 2>/dev/null
    ;;
read)
    [ "$(stat -c %s "$dir/rnd")" -eq 67108864 ] || { echo "io.sh: $dir/rnd is not 64 MiB" >&2; exit 1; }
    t0=$(now_us)
    dd if="$dir/rnd" of=/dev/null bs=1M 2>/dev/null
    t1=$(now_us)
    echo "read_us $((t1 - t0))"
    ;;
*)
    echo "io.sh: unknown phase \`$phase\`" >&2
    exit 2
    ;;
esac
