# OCI types (references, digests, index/manifest/config).
HOST_SRCS += $(wildcard src/oci/*.c)
