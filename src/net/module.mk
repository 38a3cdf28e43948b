# Networking (issue 6): the src/net library (see net.h, dns.h, ports.h): addresses,
# network store + IPAM, netlink (libmnl), nftables (libnftables), DNS, -p parsing.
HOST_SRCS += $(wildcard src/net/*.c)

UNIT_TESTS += test-dns
test-dns_SRCS := tests/unit/test-dns.c

UNIT_TESTS += test-ports
test-ports_SRCS := tests/unit/test-ports.c

UNIT_TESTS += test-net
test-net_SRCS := tests/unit/test-net.c

# Test tool: drives the netlink/nftables half inside a test's network namespace.
BINS += ctr-net
ctr-net_SRCS := tests/tools/ctr-net.c
