#!/bin/bash
# Build and run one libFuzzer target (docs/testing.md, "Fuzzing"):
#   tests/fuzz/run.sh [--tap] TARGET [SECONDS] [libFuzzer args...]
# TARGET is unpack, dns, agent, http, dockerfile or buildctx (tests/fuzz/fuzz-TARGET.c); SECONDS defaults to
# $FUZZ_SECONDS, else 60. Builds with `make SANITIZE=fuzz` (clang, -fsanitize=fuzzer,address,
# undefined) into build-fuzz/, replays every input of tests/fuzz/regressions/TARGET/ (NAME.b64:
# base64 of the input; any other file: the input itself), then fuzzes for SECONDS from the
# corpus kept in $CTR_CACHE/fuzz/TARGET (default /var/cache/container-test/fuzz/TARGET) plus
# the target's seeds. A crash is written to build-fuzz/fuzz/crashes/TARGET-crash-*; once fixed
# it becomes a regression input: `base64 -w76 FILE > tests/fuzz/regressions/TARGET/NAME.b64`.
# With --tap, everything goes to a log and one TAP line says how it went (tests/run).
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
tap=false
if [ "${1:-}" = --tap ]; then
    tap=true
    shift
fi
target=${1:?usage: tests/fuzz/run.sh [--tap] TARGET [SECONDS] [libFuzzer args...]}
shift
secs=${FUZZ_SECONDS:-60}
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
    secs=$1
    shift
fi
CTR_CACHE=${CTR_CACHE:-/var/cache/container-test}
FB=build-fuzz
bin=$TOP/$FB/fuzz/fuzz-$target
corpus=$CTR_CACHE/fuzz/$target
crashes=$TOP/$FB/fuzz/crashes
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$target.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$work/log

exec 3>&1 # the TAP line goes here; with --tap, the rest goes to the log

tap_line() { # ok|not_ok|skip TEXT
    case $1 in
    ok) echo "ok 1 - $2" ;;
    skip) echo "ok 1 # SKIP $2" ;;
    *) echo "not ok 1 - $2" ;;
    esac
    echo "1..1"
}
fail() {
    if $tap; then
        {
            tap_line not_ok "fuzz-$target: $1"
            grep -E 'ERROR|SUMMARY|runtime error|Test unit written|fuzz-http:|deadly signal' \
                "$log" 2> /dev/null | head -20 | sed 's/^/#   /'
            tail -5 "$log" 2> /dev/null | sed 's/^/#   /'
        } >&3
        exit 1
    fi
    echo "fuzz: $1" >&2
    exit 1
}

[ -f "$TOP/tests/fuzz/fuzz-$target.c" ] || fail "no target tests/fuzz/fuzz-$target.c"
if ! command -v clang > /dev/null ||
    [ -z "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2> /dev/null)" ]; then
    $tap && { tap_line skip "fuzzing needs clang and libFuzzer (apt-get install clang libclang-rt-14-dev)" >&3; exit 0; }
    fail "fuzzing needs clang and libFuzzer (apt-get install clang libclang-rt-14-dev)"
fi
if [ "$target" = http ] && [ "$(id -u)" != 0 ]; then
    $tap && { tap_line skip "fuzz-http needs root (a network namespace for the daemon)" >&3; exit 0; }
    fail "fuzz-http needs root (a network namespace for the daemon)"
fi
if $tap; then exec > "$log" 2>&1; fi

# BUILD of the test environment names another build: the fuzz build has its own.
echo "fuzz: building $bin" >&2
env -u BUILD make -s -C "$TOP" SANITIZE=fuzz BUILD=$FB -j"$(nproc)" "$FB/fuzz/fuzz-$target" >&2 ||
    fail "build of fuzz-$target failed"
mkdir -p "$corpus" "$crashes" "$work/seeds" "$work/reg" || fail "cannot make $corpus"

# Per-target options and seeds (regenerated every run: cheap).
opts=(-timeout=20 -rss_limit_mb=2048)
seeds=$work/seeds
case $target in
unpack)
    opts+=(-max_len=262144)
    python3 "$TOP/tests/fixtures/make-layers-hostile.py" "$work/h" seed > /dev/null &&
        python3 "$TOP/tests/fixtures/make-layers.py" "$work/l" --no-sparse > /dev/null ||
        fail "cannot make the seed layers"
    for f in "$work"/h/*.tar "$work"/h/*.gz "$work"/l/l1.tar.gz "$work"/l/l2.tar.zst; do
        cp "$f" "$seeds/seed-$(basename "$f")"
    done
    gzip -dc "$work/l/l1.tar.gz" > "$seeds/seed-l1.tar"
    zstd -qdc "$work/l/l2.tar.zst" > "$seeds/seed-l2.tar"
    ;;
dns)
    opts+=(-max_len=4096 -timeout=10)
    # id, flags (RD), 1 question; web1 A, www.example.com AAAA, host.docker.internal A + EDNS OPT
    printf '\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04web1\x00\x00\x01\x00\x01' > "$seeds/seed-a"
    printf '\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x1c\x00\x01' > "$seeds/seed-aaaa"
    printf '\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x04host\x06docker\x08internal\x00\x00\x01\x00\x01\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00' > "$seeds/seed-edns"
    ;;
agent)
    opts+=(-max_len=140000 -dict="$TOP/tests/fuzz/agent.dict")
    python3 "$TOP/tests/fuzz/agent-seeds.py" "$seeds" || fail "cannot make the agent seeds"
    ;;
dockerfile)
    opts+=(-max_len=8192 -timeout=10)
    for f in "$TOP"/tests/fixtures/dockerfiles/*.Dockerfile; do
        cp "$f" "$seeds/seed-$(basename "$f")"
    done
    ;;
buildctx)
    opts+=(-max_len=262144)
    python3 "$TOP/tests/fixtures/make-layers-hostile.py" "$work/h" seed > /dev/null ||
        fail "cannot make the seed layers"
    for f in "$work"/h/*.tar "$work"/h/*.gz; do
        cp "$f" "$seeds/seed-$(basename "$f")"
    done
    printf 'FROM scratch\nCOPY . /\n' > "$seeds/seed-dockerfile"
    ;;
http)
    # the daemon's threads outlive single inputs: leaks are not per input here
    opts+=(-max_len=65536 -timeout=30 -detect_leaks=0 -dict="$TOP/tests/fuzz/http.dict")
    cp "$TOP"/tests/fuzz/seeds/http/* "$seeds/"
    # the image the fixture container is made from: busybox, cached as an OCI layout tar
    img=$CTR_CACHE/fuzz/http-image.tar
    if [ ! -s "$img" ]; then
        "$TOP/scripts/make-busybox-image.sh" "$work/oci" latest docker.io/library/busybox:latest \
            > /dev/null && tar -C "$work/oci" -cf "$img.tmp" . && mv "$img.tmp" "$img" ||
            echo "fuzz: no busybox image (fewer handlers reached)" >&2
    fi
    [ -s "$img" ] && export FUZZ_HTTP_IMAGE=$img
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
    ;;
esac
export TMPDIR=$work # the http target's data root; anything else a target leaves

shopt -s nullglob
for f in "$TOP/tests/fuzz/regressions/$target"/*; do
    case $f in
    *.b64) base64 -d "$f" > "$work/reg/$(basename "$f" .b64)" ;;
    *.md) ;;
    *) cp "$f" "$work/reg/" ;;
    esac
done
reg=("$work"/reg/*)
if [ ${#reg[@]} -gt 0 ]; then
    echo "fuzz: replaying ${#reg[@]} regression input(s)" >&2
    "$bin" "${opts[@]}" "${reg[@]}" || fail "a regression input crashes again"
fi

# libFuzzer runs the whole corpus before its clock starts: past FUZZ_CORPUS_MAX inputs
# (default 1000), merge it down to the inputs that keep its coverage.
if [ "$(ls "$corpus" | wc -l)" -gt "${FUZZ_CORPUS_MAX:-1000}" ]; then
    echo "fuzz: merging the corpus ($(ls "$corpus" | wc -l) inputs)" >&2
    mkdir "$work/merged" && (cd "$crashes" && "$bin" "${opts[@]}" -merge=1 "$work/merged" "$corpus") &&
        rm -rf "$corpus.old" && mv "$corpus" "$corpus.old" && mv "$work/merged" "$corpus" &&
        rm -rf "$corpus.old" || fail "merge of $corpus failed"
fi
echo "fuzz: fuzz-$target for ${secs}s, corpus $corpus" >&2
(cd "$crashes" && "$bin" "${opts[@]}" -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="$crashes/$target-" "$@" "$corpus" "$seeds")
rc=$?
$tap || exit $rc
stat() { grep -o "^stat::$1: *[0-9]*" "$log" | grep -o '[0-9]*$' | tail -1; }
cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1)
if [ $rc -ne 0 ]; then
    art=$(grep -o 'Test unit written to .*' "$log" | tail -1)
    fail "crash after $(stat number_of_executed_units) inputs${art:+ (${art#Test unit written to })}"
fi
tap_line ok "fuzz-$target: no crash in ${secs}s: $(stat number_of_executed_units) inputs, $(stat average_exec_per_sec) exec/s, ${cov:-no coverage line}" >&3
