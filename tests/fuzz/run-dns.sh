#!/bin/bash
# Build and run the DNS query fuzz target (tests/fuzz/fuzz-dns.c) for SECONDS (default 60).
#   tests/fuzz/run-dns.sh [SECONDS] [libFuzzer args...]
# Built with clang -fsanitize=fuzzer,address,undefined into $BUILD/fuzz; the corpus lives
# under $CTR_CACHE/fuzz-dns (kept between runs), seeded with a few well-formed queries.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-60}
shift || true
BUILD=${BUILD:-$TOP/build}
OUT=$BUILD/fuzz
CTR_CACHE=${CTR_CACHE:-/var/cache/container-test}
CORPUS=$CTR_CACHE/fuzz-dns/corpus
CC=${FUZZ_CC:-clang}
mkdir -p "$OUT" "$CORPUS"

srcs=(src/common/*.c src/net/dns.c tests/fuzz/fuzz-dns.c)
bin=$OUT/fuzz-dns
newest=$(cd "$TOP" && ls -t "${srcs[@]}" src/net/dns.h src/common/*.h | head -1)
if [ ! -x "$bin" ] || [ "$TOP/$newest" -nt "$bin" ]; then
    echo "fuzz: building $bin" >&2
    (cd "$TOP" && $CC -std=gnu11 -g -O1 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Isrc \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        "${srcs[@]}" -o "$bin.tmp" -lpthread)
    mv "$bin.tmp" "$bin"
fi

if [ -z "$(ls -A "$CORPUS")" ]; then
    # id, flags (RD), 1 question; web1 A, www.example.com AAAA, host.docker.internal A + EDNS OPT
    printf '\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04web1\x00\x00\x01\x00\x01' > "$CORPUS/seed-a"
    printf '\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x1c\x00\x01' > "$CORPUS/seed-aaaa"
    printf '\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x04host\x06docker\x08internal\x00\x00\x01\x00\x01\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00' > "$CORPUS/seed-edns"
fi
cd "$OUT"
exec "$bin" -max_total_time="$SECS" -max_len=4096 -timeout=10 -print_final_stats=1 "$@" "$CORPUS"
