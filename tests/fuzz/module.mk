# libFuzzer targets (docs/testing.md, "Fuzzing"): built by `make SANITIZE=fuzz fuzz` into
# build-fuzz/fuzz/, run by tests/fuzz/run.sh TARGET SECONDS.
FUZZ_TARGETS += fuzz-unpack fuzz-dns fuzz-agent fuzz-http fuzz-dockerfile fuzz-buildctx
fuzz-unpack_SRCS := tests/fuzz/fuzz-unpack.c
fuzz-dns_SRCS := tests/fuzz/fuzz-dns.c
fuzz-agent_SRCS := tests/fuzz/fuzz-agent.c
fuzz-http_SRCS := tests/fuzz/fuzz-http.c
fuzz-dockerfile_SRCS := tests/fuzz/fuzz-dockerfile.c
fuzz-buildctx_SRCS := tests/fuzz/fuzz-buildctx.c
