# The `container` CLI (issue 4): one file per command group plus the dispatch
# table, an API client on libcurl, hijacked streams. Not in libctr.a: the CLI
# objects are linked into the binary and its unit tests only.
CLI_LIB_SRCS := $(filter-out src/cli/main.c,$(wildcard src/cli/*.c))

BINS += container
container_SRCS := src/cli/main.c $(CLI_LIB_SRCS)

UNIT_TESTS += test-cli test-cli-stream
test-cli_SRCS := tests/unit/test-cli.c $(CLI_LIB_SRCS)
test-cli-stream_SRCS := tests/unit/test-cli-stream.c $(CLI_LIB_SRCS)
test-cli-stream_LIBS := -lutil

UNIT_TESTS += test-cli-progress
test-cli-progress_SRCS := tests/unit/test-cli-progress.c $(CLI_LIB_SRCS)

UNIT_TESTS += test-cli-net
test-cli-net_SRCS := tests/unit/test-cli-net.c $(CLI_LIB_SRCS)

UNIT_TESTS += test-cli-text
test-cli-text_SRCS := tests/unit/test-cli-text.c $(CLI_LIB_SRCS)
