#!/bin/bash
# Fuzz the unpacker (libFuzzer + ASan + UBSan) for a bounded time: arbitrary
# tar / gzip / zstd streams must give an image that reads back, or an error
# naming the layer; never a crash, a leak or undefined behaviour. Known crash
# inputs (tests/fuzz/regressions/*.b64) are replayed first.
# CTR_FUZZ_SECONDS sets the time (default 60); run tests/fuzz/run.sh by hand
# for longer sessions.
source "$(dirname "$0")/../lib.sh"
plan_start

if ! command -v clang > /dev/null || [ -z "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2> /dev/null)" ]; then
    skip "fuzzing needs clang and libFuzzer (apt-get install clang libclang-rt-14-dev)"
    plan_end
    exit 0
fi
secs=${CTR_FUZZ_SECONDS:-60}
if nice "$TOP/tests/fuzz/run.sh" "$secs" > "$T_TMP/fuzz.log" 2>&1; then
    ok "no crash in ${secs}s of fuzzing ($(grep -o 'number_of_executed_units: [0-9]*' "$T_TMP/fuzz.log" | grep -o '[0-9]*$') inputs)"
else
    not_ok "no crash in ${secs}s of fuzzing"
    grep -E 'ERROR|SUMMARY|error|Test unit written' "$T_TMP/fuzz.log" | head -20 | sed 's/^/#   /'
    tail -5 "$T_TMP/fuzz.log" | sed 's/^/#   /'
fi
plan_end
