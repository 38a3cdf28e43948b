# The `container` CLI (issue 4): one file per command group plus the dispatch
# table, an API client on libcurl, hijacked streams. Not in libctr.a: the CLI
# objects are linked into the binary and its unit tests only.
CLI_LIB_SRCS := $(filter-out src/cli/main.c,$(wildcard src/cli/*.c))

BINS += container
container_SRCS := src/cli/main.c $(CLI_LIB_SRCS)
