# OCI types (references, digests, index/manifest/config) and the local image store.
HOST_SRCS += $(wildcard src/oci/*.c)
HOST_SRCS += $(wildcard src/image/store*.c)

UNIT_TESTS += test-oci-ref test-oci-types
test-oci-ref_SRCS := tests/unit/test-oci-ref.c
test-oci-types_SRCS := tests/unit/test-oci-types.c
