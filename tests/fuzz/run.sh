#!/bin/bash
# Build and run the unpack fuzz target for SECONDS (default 60).
#   tests/fuzz/run.sh [SECONDS] [libFuzzer args...]
# Builds with clang -fsanitize=fuzzer,address,undefined into $BUILD/fuzz
# (default build/fuzz). The corpus lives under $CTR_CACHE/fuzz-unpack (kept
# between runs) and is seeded with the generated fixture layers; every file in
# tests/fuzz/regressions/*.b64 (base64 of an input that once crashed) is
# replayed first. A new crash is written to $BUILD/fuzz/crash-*: add it as
# `base64 -w76 crash-X > tests/fuzz/regressions/NAME.b64` once fixed.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${1:-60}
shift || true
BUILD=${BUILD:-$TOP/build}
OUT=$BUILD/fuzz
CTR_CACHE=${CTR_CACHE:-/var/cache/container-test}
CORPUS=$CTR_CACHE/fuzz-unpack/corpus
CC=${FUZZ_CC:-clang}
mkdir -p "$OUT" "$CORPUS"

srcs=(src/common/*.c src/ext4/*.c src/image/unpack.c src/image/unpack-entry.c tests/fuzz/fuzz-unpack.c)
bin=$OUT/fuzz-unpack
newest=$(cd "$TOP" && ls -t "${srcs[@]}" src/ext4/*.h src/image/unpack*.h src/common/*.h | head -1)
if [ ! -x "$bin" ] || [ "$TOP/$newest" -nt "$bin" ]; then
    echo "fuzz: building $bin" >&2
    (cd "$TOP" && $CC -std=gnu11 -g -O1 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Isrc \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        $(pkg-config --cflags ext2fs com_err libarchive libcrypto) "${srcs[@]}" -o "$bin.tmp" \
        $(pkg-config --libs ext2fs com_err libarchive libcrypto zlib))
    mv "$bin.tmp" "$bin"
fi

# seeds: small generated layers (no 2 GiB sparse file, no 10,000 files)
if [ -z "$(ls -A "$CORPUS")" ]; then
    seeds=$(mktemp -d)
    trap 'rm -rf "$seeds"' EXIT
    python3 "$TOP/tests/fixtures/make-layers-hostile.py" "$seeds/h" seed > /dev/null
    python3 "$TOP/tests/fixtures/make-layers.py" "$seeds/l" --no-sparse > /dev/null
    for f in "$seeds"/h/*.tar "$seeds"/h/*.gz "$seeds"/l/l1.tar.gz "$seeds"/l/l2.tar.zst; do
        cp "$f" "$CORPUS/seed-$(basename "$f")"
    done
    (cd "$seeds/l" && gzip -dc l1.tar.gz > "$CORPUS/seed-l1.tar" && zstd -qdc l2.tar.zst > "$CORPUS/seed-l2.tar")
fi

reg=$(mktemp -d)
trap 'rm -rf "$reg" ${seeds:+"$seeds"}' EXIT
shopt -s nullglob
for f in "$TOP"/tests/fuzz/regressions/*.b64; do base64 -d "$f" > "$reg/$(basename "$f" .b64)"; done
if [ -n "$(ls -A "$reg")" ]; then
    echo "fuzz: replaying $(ls "$reg" | wc -l) regression input(s)" >&2
    "$bin" -rss_limit_mb=2048 "$reg"/*
fi
cd "$OUT"
exec "$bin" -max_total_time="$SECS" -max_len=262144 -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 "$@" "$CORPUS"
