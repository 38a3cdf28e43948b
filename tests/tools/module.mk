# Test tools: small binaries the integration tests drive (docs/testing.md).

# drives the netlink/nftables half of src/net inside a test's network namespace
BINS += ctr-net
ctr-net_SRCS := tests/tools/ctr-net.c

# prepares image-store fixtures
BINS += ctr-prepare
ctr-prepare_SRCS := tests/tools/ctr-prepare.c

# drives the registry client against the test registry
BINS += ctr-registry
ctr-registry_SRCS := tests/tools/ctr-registry.c

# static UDP echo server run inside test containers (tests/integration/32-runtime-net.sh)
GUEST_BINS += ctr-udp-echo
ctr-udp-echo_SRCS := tests/tools/ctr-udp-echo.c
