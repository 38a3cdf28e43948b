# Networking (issue 6): the src/net library (see net.h, dns.h, ports.h): addresses,
# network store + IPAM, netlink (libmnl), nftables (libnftables), DNS, -p parsing.
HOST_SRCS += $(wildcard src/net/*.c)
