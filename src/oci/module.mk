# OCI types (references, digests, index/manifest/config) and the local image store.
HOST_SRCS += $(wildcard src/oci/*.c)
HOST_SRCS += $(wildcard src/image/store*.c)

UNIT_TESTS += test-oci-ref test-oci-types test-store
test-oci-ref_SRCS := tests/unit/test-oci-ref.c
test-oci-types_SRCS := tests/unit/test-oci-types.c
test-store_SRCS := tests/unit/test-store.c

BINS += ctr-prepare
ctr-prepare_SRCS := tests/tools/ctr-prepare.c
