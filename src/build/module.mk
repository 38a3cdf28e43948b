# The Dockerfile language (issue 14): parser, variable substitution, stage walk,
# .dockerignore matching (docs/build.md). No executor yet.
HOST_SRCS += $(wildcard src/build/*.c)
