# Registry client (issue 5): distribution API, auth, credentials, pull/push.
HOST_SRCS += $(wildcard src/registry/*.c)

BINS += ctr-registry
ctr-registry_SRCS := tests/tools/ctr-registry.c

UNIT_TESTS += test-registry test-registry-blob
test-registry_SRCS := tests/unit/test-registry.c
test-registry-blob_SRCS := tests/unit/test-registry-blob.c
