# Networking (issue 6): the src/net library (see net.h, dns.h, ports.h).
HOST_SRCS += $(wildcard src/net/*.c)

UNIT_TESTS += test-dns
test-dns_SRCS := tests/unit/test-dns.c

UNIT_TESTS += test-ports
test-ports_SRCS := tests/unit/test-ports.c
