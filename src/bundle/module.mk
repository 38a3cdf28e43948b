# Bundle creation: image + docker run options -> bundle dir for the shim.
HOST_SRCS += $(wildcard src/bundle/*.c)

UNIT_TESTS += test-spec-merge
test-spec-merge_SRCS := tests/unit/test-spec-merge.c

UNIT_TESTS += test-volume-mounts
test-volume-mounts_SRCS := tests/unit/test-volume-mounts.c
